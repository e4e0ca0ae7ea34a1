package cmd

import (
	"errors"

	apierrors "minik8s/api/errors"
)

func errorsNewInvalid() error {
	return apierrors.NewInvalid("Pod", "x", []apierrors.FieldError{apierrors.Required("spec.containers[0].image", "")})
}

func errPlain(s string) error { return errors.New(s) }

func errorsNewTimeout(msg string) error { return apierrors.NewTimeout(msg) }
