package remotecommand

import (
	"net/url"
	"reflect"
	"testing"

	apierrors "minik8s/api/errors"
)

func TestParseOptions(t *testing.T) {
	tests := []struct {
		query   string
		want    Options
		wantErr string
	}{
		{query: "command=ls&command=-l&stdout=true&stderr=true&container=app",
			want: Options{Command: []string{"ls", "-l"}, Container: "app", Stdout: true, Stderr: true}},
		{query: "command=sh&stdin=true&stdout=true&tty=true&stderr=true",
			want: Options{Command: []string{"sh"}, Stdin: true, Stdout: true, Tty: true}}, // tty drops stderr
		{query: "command=sh&stdin=1&stdout=1", want: Options{Command: []string{"sh"}, Stdin: true, Stdout: true}},
		{query: "command=ls", wantErr: "you must specify at least 1 of stdin, stdout, stderr"},
		{query: "command=ls&tty=true&stderr=true", wantErr: "you must specify at least 1 of stdin, stdout, stderr"},
		{query: "stdout=true", wantErr: "you must specify at least one command for the container"},
		{query: "command=ls&stdout=yes", wantErr: `invalid value "yes" for stdout: must be true or false`},
	}
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			q, _ := url.ParseQuery(tc.query)
			got, err := ParseOptions(q)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr || !apierrors.IsBadRequest(err) {
					t.Fatalf("err = %v, want BadRequest %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestParseAttachOptions(t *testing.T) {
	q, _ := url.ParseQuery("container=app&stdin=true&stdout=true&tty=true")
	got, err := ParseAttachOptions(q)
	want := Options{Container: "app", Stdin: true, Stdout: true, Tty: true}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, %v; want %+v", got, err, want)
	}
}
