"""leadclock runtime library: domain rules, services, ports and adapters."""
