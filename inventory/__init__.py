"""Network inventory: sites, routers (NAS), sectors, devices, links, and vendor plugins."""
