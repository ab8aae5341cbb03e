"""The gateway service: recognise the LAN's router, or be it (DHCP, DNS, NAT)."""
