"""The live dashboard of ``atlas serve``: page, JSON API, signed links, in-process server."""
