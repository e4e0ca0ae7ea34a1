package validation

import (
	"google.golang.org/protobuf/proto"

	"minik8s/api/codec"
	apierrors "minik8s/api/errors"
)

// ValidateEncodable refuses values the stored JSON could not carry back
// (NaN and infinite numbers, timestamps outside years 0001-9999): stored,
// such an object could never be read, listed or deleted again. Every
// kind is checked, on every write, before any kind's own rules.
func ValidateEncodable(obj proto.Message) []apierrors.FieldError {
	var errs []apierrors.FieldError
	for _, fe := range codec.Unencodable(obj) {
		errs = append(errs, apierrors.FieldError{Field: fe.Path, Type: "FieldValueInvalid", Detail: "Invalid value: " + fe.Detail})
	}
	return errs
}
