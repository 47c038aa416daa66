// DNSPolicy module
