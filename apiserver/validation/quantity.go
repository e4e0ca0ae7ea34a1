package validation

import (
	apierrors "minik8s/api/errors"
	"minik8s/api/resource"
)

// ValidateQuantity checks a resource quantity at path: it must parse and
// not be negative.
func ValidateQuantity(value, path string) []apierrors.FieldError {
	milli, err := resource.ParseQuantity(value)
	if err != nil {
		return []apierrors.FieldError{apierrors.Invalid(path, value, err.Error())}
	}
	if milli < 0 {
		return []apierrors.FieldError{apierrors.Invalid(path, value, "must be greater than or equal to 0")}
	}
	return nil
}

// ValidateResourceList checks a map of resource name to quantity (requests,
// limits, capacity, hard): names are qualified names and quantities are
// valid and non-negative. Paths are path[name].
func ValidateResourceList(list map[string]string, path string) []apierrors.FieldError {
	var errs []apierrors.FieldError
	for _, name := range SortedKeys(list) {
		p := Key(path, name)
		for _, msg := range IsQualifiedName(name) {
			errs = append(errs, apierrors.Invalid(p, name, msg))
		}
		errs = append(errs, ValidateQuantity(list[name], p)...)
	}
	return errs
}
