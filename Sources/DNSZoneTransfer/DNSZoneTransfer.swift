// DNSZoneTransfer module
