// DNSServer module
