package validation

import "testing"

func TestValidateQuantity(t *testing.T) {
	if errs := ValidateQuantity("500m", "spec.cpu"); len(errs) != 0 {
		t.Errorf("valid: %v", errs)
	}
	if errs := ValidateQuantity("-1", "spec.cpu"); len(errs) != 1 || errs[0].Field != "spec.cpu" {
		t.Errorf("negative: %v", errs)
	}
	if errs := ValidateResourceList(map[string]string{"cpu": "1", "memory": "bad"}, "limits"); len(errs) != 1 || errs[0].Field != "limits[memory]" {
		t.Errorf("list: %v", errs)
	}
}
