"""Who may call what: tokens and sessions, Host and Origin checks, body limits, headers."""
