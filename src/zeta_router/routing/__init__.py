"""Routing decisions: policy, admission, balancer, hedge, retry budget, feedback, attribution."""
