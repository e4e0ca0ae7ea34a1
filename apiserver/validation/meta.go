package validation

import (
	"fmt"
	"sort"
	"strings"

	apierrors "minik8s/api/errors"
	"minik8s/api/labels"
	metav1 "minik8s/api/meta/v1"
)

// TotalAnnotationSizeLimit is the most bytes all annotation keys and values
// of one object may take together.
const TotalAnnotationSizeLimit = 256 * 1024

// nameRules lists the resources whose names are not DNS-1123 subdomains.
var nameRules = map[string]func(string) []string{
	"namespaces":          IsDNS1123Label,
	"services":            IsDNS1035Label,
	"roles":               IsValidPathSegmentName,
	"clusterroles":        IsValidPathSegmentName,
	"rolebindings":        IsValidPathSegmentName,
	"clusterrolebindings": IsValidPathSegmentName,
}

// NameRule returns the check for metadata.name of a resource: an RFC 1123
// label for namespaces, an RFC 1035 label for services (they become DNS
// labels, and Kubernetes requires a leading letter), a path segment for
// RBAC kinds, and an RFC 1123 subdomain for everything else.
func NameRule(resource string) func(string) []string {
	if r, ok := nameRules[resource]; ok {
		return r
	}
	return IsDNS1123Subdomain
}

// ValidateObjectMeta checks the metadata of a new or updated object: a name
// (or generateName) that nameRule accepts, a namespace exactly when the kind
// is namespaced, label and annotation syntax, owner references and
// finalizers. path is normally "metadata".
func ValidateObjectMeta(md *metav1.ObjectMeta, namespaced bool, nameRule func(string) []string, path string) []apierrors.FieldError {
	if md == nil {
		return []apierrors.FieldError{apierrors.Required(path, "")}
	}
	var errs []apierrors.FieldError
	if md.GenerateName != "" {
		// A prefix may end in '-': the random suffix follows it.
		masked := md.GenerateName
		if strings.HasSuffix(masked, "-") {
			masked = masked[:len(masked)-1] + "a"
		}
		errs = append(errs, Msgs(Child(path, "generateName"), md.GenerateName, nameRule(masked))...)
	}
	if md.Name == "" {
		if md.GenerateName == "" {
			errs = append(errs, apierrors.Required(Child(path, "name"), "name or generateName is required"))
		}
	} else {
		errs = append(errs, Msgs(Child(path, "name"), md.Name, nameRule(md.Name))...)
	}
	nsPath := Child(path, "namespace")
	switch {
	case namespaced && md.Namespace == "":
		errs = append(errs, apierrors.Required(nsPath, ""))
	case namespaced:
		errs = append(errs, Msgs(nsPath, md.Namespace, IsDNS1123Label(md.Namespace))...)
	case md.Namespace != "":
		errs = append(errs, apierrors.Forbidden(nsPath, "not allowed on this type"))
	}
	if md.Generation < 0 {
		errs = append(errs, apierrors.Invalid(Child(path, "generation"), md.Generation, "must be greater than or equal to 0"))
	}
	errs = append(errs, ValidateLabels(md.Labels, Child(path, "labels"))...)
	errs = append(errs, ValidateAnnotations(md.Annotations, Child(path, "annotations"))...)
	errs = append(errs, validateOwnerReferences(md.OwnerReferences, Child(path, "ownerReferences"))...)
	errs = append(errs, validateFinalizers(md.Finalizers, Child(path, "finalizers"))...)
	return errs
}

// ValidateObjectMetaUpdate checks that an update keeps what identifies the
// object: name, namespace, uid and creationTimestamp.
func ValidateObjectMetaUpdate(newMD, oldMD *metav1.ObjectMeta, path string) []apierrors.FieldError {
	var errs []apierrors.FieldError
	immutable := func(field, nv, ov string) {
		if nv != ov {
			errs = append(errs, apierrors.Invalid(Child(path, field), nv, "field is immutable"))
		}
	}
	immutable("name", newMD.GetName(), oldMD.GetName())
	immutable("namespace", newMD.GetNamespace(), oldMD.GetNamespace())
	immutable("uid", newMD.GetUid(), oldMD.GetUid())
	immutable("creationTimestamp", timeString(newMD), timeString(oldMD))
	return errs
}

func timeString(md *metav1.ObjectMeta) string {
	if md.GetCreationTimestamp() == nil {
		return ""
	}
	return md.GetCreationTimestamp().AsTime().UTC().Format("2006-01-02T15:04:05Z")
}

// ValidateLabels checks label keys (qualified names) and values.
func ValidateLabels(m map[string]string, path string) []apierrors.FieldError {
	var errs []apierrors.FieldError
	for _, k := range SortedKeys(m) {
		errs = append(errs, Msgs(path, k, IsQualifiedName(k))...)
		errs = append(errs, Msgs(Key(path, k), m[k], IsValidLabelValue(m[k]))...)
	}
	return errs
}

// ValidateAnnotations checks annotation keys (qualified names, compared in
// lower case as Kubernetes does) and their total size.
func ValidateAnnotations(m map[string]string, path string) []apierrors.FieldError {
	var errs []apierrors.FieldError
	total := 0
	for _, k := range SortedKeys(m) {
		errs = append(errs, Msgs(path, k, IsQualifiedName(strings.ToLower(k)))...)
		total += len(k) + len(m[k])
	}
	if total > TotalAnnotationSizeLimit {
		errs = append(errs, apierrors.TooLong(path, TotalAnnotationSizeLimit))
	}
	return errs
}

func validateOwnerReferences(refs []*metav1.OwnerReference, path string) []apierrors.FieldError {
	var errs []apierrors.FieldError
	var controllers []string
	for i, r := range refs {
		p := Index(path, i)
		if r.GetApiVersion() == "" {
			errs = append(errs, apierrors.Required(Child(p, "apiVersion"), "version must not be empty"))
		}
		if r.GetKind() == "" {
			errs = append(errs, apierrors.Required(Child(p, "kind"), "kind must not be empty"))
		}
		if r.GetName() == "" {
			errs = append(errs, apierrors.Required(Child(p, "name"), "name must not be empty"))
		} else {
			errs = append(errs, Msgs(Child(p, "name"), r.GetName(), IsValidPathSegmentName(r.GetName()))...)
		}
		if r.GetUid() == "" {
			errs = append(errs, apierrors.Required(Child(p, "uid"), "uid must not be empty"))
		}
		if r.GetController() {
			controllers = append(controllers, fmt.Sprintf("%s/%s", r.GetKind(), r.GetName()))
		}
	}
	if len(controllers) > 1 {
		errs = append(errs, apierrors.Invalid(path, strings.Join(controllers, ", "),
			"Only one reference can have Controller set to true. Found \"true\" in references for "+strings.Join(controllers, " and ")))
	}
	return errs
}

func validateFinalizers(fins []string, path string) []apierrors.FieldError {
	var errs []apierrors.FieldError
	seen := map[string]bool{}
	for i, f := range fins {
		errs = append(errs, Msgs(Index(path, i), f, IsQualifiedName(f))...)
		seen[f] = true
	}
	if seen["orphan"] && seen["foregroundDeletion"] {
		errs = append(errs, apierrors.Invalid(path, strings.Join(fins, ","), "finalizer orphan and foregroundDeletion cannot be both set"))
	}
	return errs
}

// ValidateLabelSelector checks the syntax of a label selector: matchLabels
// like labels, matchExpressions with a known operator and the values it needs.
func ValidateLabelSelector(sel *metav1.LabelSelector, path string) []apierrors.FieldError {
	if sel == nil {
		return nil
	}
	errs := ValidateLabels(sel.MatchLabels, Child(path, "matchLabels"))
	for i, e := range sel.MatchExpressions {
		p := Index(Child(path, "matchExpressions"), i)
		errs = append(errs, Msgs(Child(p, "key"), e.Key, IsQualifiedName(e.Key))...)
		switch e.Operator {
		case "In", "NotIn":
			if len(e.Values) == 0 {
				errs = append(errs, apierrors.Required(Child(p, "values"), "must be specified when `operator` is 'In' or 'NotIn'"))
			}
		case "Exists", "DoesNotExist":
			if len(e.Values) > 0 {
				errs = append(errs, apierrors.Forbidden(Child(p, "values"), "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"))
			}
		default:
			errs = append(errs, apierrors.NotSupported(Child(p, "operator"), e.Operator, []string{"In", "NotIn", "Exists", "DoesNotExist"}))
		}
		for j, v := range e.Values {
			errs = append(errs, Msgs(Index(Child(p, "values"), j), v, IsValidLabelValue(v))...)
		}
	}
	return errs
}

// SelectorMatches reports whether a (syntactically valid) selector selects
// the given labels; a nil selector selects nothing.
func SelectorMatches(sel *metav1.LabelSelector, set map[string]string) bool {
	s, err := labels.FromLabelSelector(sel)
	return err == nil && s.Matches(set)
}

// SelectorIsEmpty reports a selector that has no terms (and so would
// select everything).
func SelectorIsEmpty(sel *metav1.LabelSelector) bool {
	return len(sel.GetMatchLabels()) == 0 && len(sel.GetMatchExpressions()) == 0
}

// SortedKeys returns the keys of a map in order, so errors come out stable.
func SortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// ValidateWorkloadSelector checks a controller's selector: required,
// non-empty, syntactically valid, and selecting the labels of the pod
// template it creates (else the controller would never see its pods).
func ValidateWorkloadSelector(sel *metav1.LabelSelector, templateLabels map[string]string, selPath, labelsPath string) []apierrors.FieldError {
	if sel == nil {
		return []apierrors.FieldError{apierrors.Required(selPath, "")}
	}
	if SelectorIsEmpty(sel) {
		return []apierrors.FieldError{apierrors.Invalid(selPath, "", "empty selector is invalid for this resource")}
	}
	errs := ValidateLabelSelector(sel, selPath)
	if len(errs) == 0 && !SelectorMatches(sel, templateLabels) {
		errs = append(errs, apierrors.Invalid(labelsPath, labels.Set(templateLabels).String(), "`selector` does not match template `labels`"))
	}
	return errs
}
