package scheme

import (
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

func protoreflectString(s string) protoreflect.Value { return protoreflect.ValueOfString(s) }

func protoreflectMessage(m proto.Message) protoreflect.Value {
	return protoreflect.ValueOfMessage(m.ProtoReflect())
}
