// DNSCache module
