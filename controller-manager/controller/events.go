package controller

import "minik8s/api/record"

// Event types, as Kubernetes names them.
const (
	EventNormal  = "Normal"
	EventWarning = "Warning"
)

// EventRecorder records Events about objects: api/record's interface, so
// *record.Recorder and its doubles record.Nop and record.Fake fit.
type EventRecorder = record.EventRecorder
