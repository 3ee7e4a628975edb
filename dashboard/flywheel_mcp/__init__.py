"""MCP server of the GloriousFlywheel platform: health, pools, runners, caches, drift,
and (operator only, confirmed) the recover and redeploy runbooks."""
