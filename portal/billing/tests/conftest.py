from tests.localstripe import localstripe_server, stripe_test, stripe_webhooks  # noqa: F401
