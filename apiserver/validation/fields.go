package validation

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	apierrors "minik8s/api/errors"
)

// Field path helpers: Child("spec", "replicas") is "spec.replicas",
// Index("spec.containers", 0) is "spec.containers[0]", Key("data", "k") is
// "data[k]".

// Child joins a field name onto a path.
func Child(path string, names ...string) string {
	for _, n := range names {
		if path == "" {
			path = n
		} else {
			path += "." + n
		}
	}
	return path
}

// Index appends a list index to a path.
func Index(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }

// Key appends a map key to a path.
func Key(path, key string) string { return path + "[" + key + "]" }

// NotFound reports a reference to something that does not exist
// (a volumeMount naming no volume); api/errors has no constructor for it.
func NotFound(field string, value any) apierrors.FieldError {
	return apierrors.FieldError{Field: field, Type: "FieldValueNotFound", Detail: fmt.Sprintf("Not found: %q", fmt.Sprint(value))}
}

// Msgs turns the messages of a string check into Invalid errors at path,
// one per message, as Kubernetes does.
func Msgs(path string, value any, msgs []string) []apierrors.FieldError {
	var errs []apierrors.FieldError
	for _, m := range msgs {
		errs = append(errs, apierrors.Invalid(path, value, m))
	}
	return errs
}

// Enum checks a required string field against its allowed values.
func Enum(path, v string, allowed []string) []apierrors.FieldError {
	if v == "" {
		return []apierrors.FieldError{apierrors.Required(path, "")}
	}
	for _, a := range allowed {
		if v == a {
			return nil
		}
	}
	return []apierrors.FieldError{apierrors.NotSupported(path, v, allowed)}
}

// OptionalEnum is Enum for a field that may be left empty.
func OptionalEnum(path, v string, allowed []string) []apierrors.FieldError {
	if v == "" {
		return nil
	}
	return Enum(path, v, allowed)
}

// NonNegative checks v >= 0.
func NonNegative(path string, v int64) []apierrors.FieldError {
	if v < 0 {
		return []apierrors.FieldError{apierrors.Invalid(path, v, "must be greater than or equal to 0")}
	}
	return nil
}

// Positive checks v > 0.
func Positive(path string, v int64) []apierrors.FieldError {
	if v <= 0 {
		return []apierrors.FieldError{apierrors.Invalid(path, v, "must be greater than 0")}
	}
	return nil
}

// Immutable reports a field whose value changed in an update.
func Immutable(path string, newV, oldV any) []apierrors.FieldError {
	if fmt.Sprint(newV) != fmt.Sprint(oldV) {
		return []apierrors.FieldError{apierrors.Invalid(path, newV, "field is immutable")}
	}
	return nil
}

// ImmutableMessage reports a message-valued field that changed in an update.
func ImmutableMessage(path string, newV, oldV proto.Message) []apierrors.FieldError {
	if !proto.Equal(newV, oldV) {
		return []apierrors.FieldError{apierrors.Invalid(path, "", "field is immutable")}
	}
	return nil
}

// ChangedFields lists the top-level fields (by their JSON names) in which
// two messages of the same type differ; an update check uses it to say
// what it refuses.
func ChangedFields(a, b proto.Message) []string {
	ma, mb := a.ProtoReflect(), b.ProtoReflect()
	var out []string
	fields := ma.Descriptor().Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		if ma.Has(fd) != mb.Has(fd) || !ma.Get(fd).Equal(mb.Get(fd)) {
			out = append(out, fd.JSONName())
		}
	}
	return out
}
