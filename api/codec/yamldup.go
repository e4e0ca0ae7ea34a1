package codec

import (
	"fmt"

	yaml3 "go.yaml.in/yaml/v3"
)

// explicitDuplicate finds a mapping that writes one key twice, the merge
// key "<<" aside (keys a merge brings in may be overridden; that is what
// merging is for). Aliases are not followed, so a document cannot make
// the walk blow up.
func explicitDuplicate(data []byte) error {
	var doc yaml3.Node
	if err := yaml3.Unmarshal(data, &doc); err != nil {
		return err
	}
	return walkDuplicates(&doc)
}

func walkDuplicates(n *yaml3.Node) error {
	switch n.Kind {
	case yaml3.DocumentNode, yaml3.SequenceNode:
		for _, c := range n.Content {
			if err := walkDuplicates(c); err != nil {
				return err
			}
		}
	case yaml3.MappingNode:
		seen := map[string]int{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Tag == "!!merge" || k.Value == "<<" {
				continue
			}
			if line, dup := seen[k.Value]; dup {
				return fmt.Errorf("line %d: key %q already set in map (line %d)", k.Line, k.Value, line)
			}
			seen[k.Value] = k.Line
			if err := walkDuplicates(n.Content[i+1]); err != nil {
				return err
			}
		}
	}
	return nil
}
