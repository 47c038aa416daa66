// Placeholder: incident webhooks and JSON event output land here.
