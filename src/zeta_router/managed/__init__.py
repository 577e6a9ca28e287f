"""Managed processes: launching and supervising local model servers, llama.cpp builds."""
