"""Fleet state: replicas and models, circuit breakers, health probes, metric scrapes."""
