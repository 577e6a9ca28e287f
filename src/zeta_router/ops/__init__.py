"""Operations: metrics, status, telemetry, history, config reload, lifecycle, dashboard."""
