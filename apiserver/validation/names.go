// Package validation holds the pure checks the apiserver applies to every
// object: name and label syntax, ports, IPs, resource quantities, object
// metadata and label selectors. The string checks return human-readable
// messages in Kubernetes' wording (an empty list means valid); the Validate*
// functions return field errors with paths from the object root.
package validation

import (
	"fmt"
	"net"
	"regexp"
	"strings"
)

const (
	dns1123LabelFmt     = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
	dns1123SubdomainFmt = dns1123LabelFmt + `(\.` + dns1123LabelFmt + ")*"
	dns1035LabelFmt     = "[a-z]([-a-z0-9]*[a-z0-9])?"
	qualifiedNameFmt    = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
	labelValueFmt       = "(" + qualifiedNameFmt + ")?"
	envVarNameFmt       = "[-._a-zA-Z][-._a-zA-Z0-9]*"
	configKeyFmt        = "[-._a-zA-Z0-9]+"
	percentFmt          = "[0-9]+%"

	// DNS1123LabelMaxLength is the longest RFC 1123 label.
	DNS1123LabelMaxLength = 63
	// DNS1123SubdomainMaxLength is the longest RFC 1123 subdomain.
	DNS1123SubdomainMaxLength = 253
	// LabelValueMaxLength is the longest label value (and qualified-name name part).
	LabelValueMaxLength = 63
	// ConfigKeyMaxLength is the longest ConfigMap or Secret key.
	ConfigKeyMaxLength = 253
)

var (
	dns1123LabelRE     = regexp.MustCompile("^" + dns1123LabelFmt + "$")
	dns1123SubdomainRE = regexp.MustCompile("^" + dns1123SubdomainFmt + "$")
	dns1035LabelRE     = regexp.MustCompile("^" + dns1035LabelFmt + "$")
	qualifiedNameRE    = regexp.MustCompile("^" + qualifiedNameFmt + "$")
	labelValueRE       = regexp.MustCompile("^" + labelValueFmt + "$")
	envVarNameRE       = regexp.MustCompile("^" + envVarNameFmt + "$")
	configKeyRE        = regexp.MustCompile("^" + configKeyFmt + "$")
	percentRE          = regexp.MustCompile("^" + percentFmt + "$")
	portNameCharsRE    = regexp.MustCompile("^[-a-z0-9]+$")
	portNameLetterRE   = regexp.MustCompile("[a-z]")
)

// regexError words a regexp mismatch as Kubernetes does: what the value must
// look like, examples, and the regexp itself.
func regexError(msg, re string, examples ...string) string {
	if len(examples) == 0 {
		return msg + " (regex used for validation is '" + re + "')"
	}
	return msg + " (e.g. '" + strings.Join(examples, "',  or '") + "', regex used for validation is '" + re + "')"
}

func maxLenError(n int) string { return fmt.Sprintf("must be no more than %d characters", n) }

// IsDNS1123Label checks an RFC 1123 label (namespace names, container
// names): at most 63 lower-case alphanumerics or '-', starting and ending
// alphanumeric.
func IsDNS1123Label(v string) []string {
	var errs []string
	if len(v) > DNS1123LabelMaxLength {
		errs = append(errs, maxLenError(DNS1123LabelMaxLength))
	}
	if !dns1123LabelRE.MatchString(v) {
		errs = append(errs, regexError("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character", dns1123LabelFmt, "my-name", "123-abc"))
	}
	return errs
}

// IsDNS1123Subdomain checks an RFC 1123 subdomain (most object names): at
// most 253 characters of dot-separated RFC 1123 labels.
func IsDNS1123Subdomain(v string) []string {
	var errs []string
	if len(v) > DNS1123SubdomainMaxLength {
		errs = append(errs, maxLenError(DNS1123SubdomainMaxLength))
	}
	if !dns1123SubdomainRE.MatchString(v) {
		errs = append(errs, regexError("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character", dns1123SubdomainFmt, "example.com"))
	}
	return errs
}

// IsDNS1035Label checks an RFC 1035 label (service names): like an RFC
// 1123 label but starting with a letter.
func IsDNS1035Label(v string) []string {
	var errs []string
	if len(v) > DNS1123LabelMaxLength {
		errs = append(errs, maxLenError(DNS1123LabelMaxLength))
	}
	if !dns1035LabelRE.MatchString(v) {
		errs = append(errs, regexError("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character", dns1035LabelFmt, "my-name", "abc-123"))
	}
	return errs
}

// IsValidPathSegmentName checks a name that only has to be usable as one
// URL path segment (RBAC role names like "system:node").
func IsValidPathSegmentName(v string) []string {
	switch {
	case v == "." || v == "..":
		return []string{fmt.Sprintf("may not be '%s'", v)}
	case strings.ContainsAny(v, "/%"):
		return []string{"may not contain '/' or '%'"}
	}
	return nil
}

// IsQualifiedName checks a label or annotation key: a name part of at most
// 63 characters, optionally prefixed by a DNS subdomain and '/'
// ("app", "example.com/tier").
func IsQualifiedName(v string) []string {
	var errs []string
	parts := strings.Split(v, "/")
	name := parts[0]
	switch len(parts) {
	case 1:
	case 2:
		prefix := parts[0]
		name = parts[1]
		if prefix == "" {
			errs = append(errs, "prefix part must be non-empty")
		} else {
			for _, m := range IsDNS1123Subdomain(prefix) {
				errs = append(errs, "prefix part "+m)
			}
		}
	default:
		return []string{regexError("a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character", qualifiedNameFmt, "MyName", "my.name", "123-abc") +
			" with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"}
	}
	switch {
	case name == "":
		errs = append(errs, "name part must be non-empty")
	case len(name) > LabelValueMaxLength:
		errs = append(errs, "name part "+maxLenError(LabelValueMaxLength))
	}
	if name != "" && !qualifiedNameRE.MatchString(name) {
		errs = append(errs, "name part "+regexError("must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character", qualifiedNameFmt, "MyName", "my.name", "123-abc"))
	}
	return errs
}

// IsValidLabelValue checks a label value: empty, or at most 63 characters
// of [A-Za-z0-9-_.] starting and ending alphanumeric.
func IsValidLabelValue(v string) []string {
	var errs []string
	if len(v) > LabelValueMaxLength {
		errs = append(errs, maxLenError(LabelValueMaxLength))
	}
	if !labelValueRE.MatchString(v) {
		errs = append(errs, regexError("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character", labelValueFmt, "MyValue", "my_value", "12345"))
	}
	return errs
}

// IsValidPortNum checks a port number: 1 to 65535.
func IsValidPortNum(port int32) []string {
	if port < 1 || port > 65535 {
		return []string{"must be between 1 and 65535, inclusive"}
	}
	return nil
}

// IsValidPortName checks an IANA_SVC_NAME (RFC 6335): at most 15 lower-case
// alphanumerics or '-', with a letter, no leading, trailing or double '-'.
func IsValidPortName(v string) []string {
	var errs []string
	if len(v) > 15 {
		errs = append(errs, maxLenError(15))
	}
	if !portNameCharsRE.MatchString(v) {
		errs = append(errs, "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
	}
	if !portNameLetterRE.MatchString(v) {
		errs = append(errs, "must contain at least one letter (a-z)")
	}
	if strings.Contains(v, "--") {
		errs = append(errs, "must not contain consecutive hyphens")
	}
	if strings.HasPrefix(v, "-") || strings.HasSuffix(v, "-") {
		errs = append(errs, "must not begin or end with a hyphen")
	}
	return errs
}

// IsValidIP checks an IPv4 or IPv6 address.
func IsValidIP(v string) []string {
	if net.ParseIP(v) == nil {
		return []string{"must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"}
	}
	return nil
}

// IsCIDR checks a CIDR ("10.244.0.0/16", "2001:db8::/64").
func IsCIDR(v string) []string {
	if _, _, err := net.ParseCIDR(v); err != nil {
		return []string{"must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"}
	}
	return nil
}

// IsEnvVarName checks an environment variable name.
func IsEnvVarName(v string) []string {
	if !envVarNameRE.MatchString(v) {
		return []string{regexError("a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit", envVarNameFmt, "my.env-name", "MY_ENV.NAME", "MyEnvName1")}
	}
	return nil
}

// IsConfigMapKey checks a key of a ConfigMap or Secret: it becomes a file
// name in a volume, so '.', '..' and a leading '..' are refused.
func IsConfigMapKey(v string) []string {
	var errs []string
	if len(v) > ConfigKeyMaxLength {
		errs = append(errs, maxLenError(ConfigKeyMaxLength))
	}
	if !configKeyRE.MatchString(v) {
		errs = append(errs, regexError("a valid config key must consist of alphanumeric characters, '-', '_' or '.'", configKeyFmt, "key.name", "KEY_NAME", "key-name"))
	}
	switch {
	case v == ".":
		errs = append(errs, "must not be '.'")
	case v == "..":
		errs = append(errs, "must not be '..'")
	case strings.HasPrefix(v, ".."):
		errs = append(errs, "must not start with '..'")
	}
	return errs
}

// IsValidPercent checks a percentage string such as "25%".
func IsValidPercent(v string) []string {
	if !percentRE.MatchString(v) {
		return []string{regexError("a valid percent string must be a numeric string followed by an ending '%'", percentFmt, "1%", "93%")}
	}
	return nil
}
