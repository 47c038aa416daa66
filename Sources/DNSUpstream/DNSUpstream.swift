// DNSUpstream module
