"""HTTP adapters: Powertools routers speaking the Lago v1 contract. Handlers in functions/ wire them."""
