// Package component is what every minik8s daemon shares, as Kubernetes'
// component-base is for its daemons: the apiserver connection flags with
// one spelling (--kubeconfig, --server), one -v/--v verbosity mapped onto
// log/slog, one health and metrics handler (/healthz, /livez, /readyz with
// ?verbose and ?exclude, /healthz/NAME, /metrics) over named checks, an
// HTTP server that drains on shutdown, a leader-elected run on
// api/leaderelection, and the signal handling of a main: the first
// SIGTERM or SIGINT cancels the daemon's context, a second exits at once.
//
// A daemon's main parses flags into its options (embedding ClientOptions
// and LeaderElectionOptions where they apply) and calls Main; its app.Run
// builds the client, the Health handler, the HTTPServer and, if it leads,
// an Elected, and is otherwise wiring of its own packages.
package component
