// Package controller holds what every controller of the controller-manager
// shares: the worker loop over a rate-limited work queue, expectations (so
// a slow watch never makes a controller create or delete twice), pod
// creation and deletion with their events, owner references and adoption,
// pod readiness and ranking, template hashing and int-or-percent values.
//
// Controllers follow Kubernetes' sample-controller shape: informer event
// handlers only enqueue "namespace/name" keys; workers call a
// level-triggered sync(key) that recomputes the desired state from the
// informer caches and writes only what differs. Cached objects are never
// mutated: they are copied with proto.Clone first.
package controller
