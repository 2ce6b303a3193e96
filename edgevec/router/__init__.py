"""Regional routing, the result cache and federated merge: stores that wrap stores."""
