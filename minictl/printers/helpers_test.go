package printers

import (
	"encoding/json"
	"fmt"
)

func jsonNum(s string) json.Number { return json.Number(s) }

func fmtInts(v []int) string { return fmt.Sprint(v) }
