// Package controller is the controller kit: what every controller of the
// controller-manager shares, so that none keeps its own copy.
//
//   - Base, embedded by each controller: the work queue, expectations (so
//     a slow watch never makes a controller create or delete twice), the
//     synced funcs of its informers (registered by Lister), the event
//     recorder, metrics, clock and logger, and Run, which fails with
//     ErrCachesNotSynced instead of returning silently.
//   - Resolve, ControllerOf and OwnerKey: the one owner resolver from a
//     controller reference to the cached owner.
//   - UpdateStatus and Update: the one read-modify-write with conflict
//     retry and a uid check.
//   - Pod creation and deletion with their events, adoption (Claimer),
//     pod readiness and ranking, template hashing and int-or-percent
//     values.
//
// Controllers follow Kubernetes' sample-controller shape: informer event
// handlers only enqueue "namespace/name" keys; workers call a
// level-triggered sync(key) that recomputes the desired state from the
// informer caches and writes only what differs. Cached objects are never
// mutated: they are copied with proto.Clone first. Tests use
// api/client/fake for the API and informers and api/record's Fake for
// events.
package controller
