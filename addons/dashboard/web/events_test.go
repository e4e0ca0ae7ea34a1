package web_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"minik8s/api/client"
	corev1 "minik8s/api/core/v1"
)

// TestEventsStream: the events page's stream is a list and then a watch
// as the user: an event recorded, repeated and deleted while it is open
// arrives as reset, upsert, upsert and delete.
func TestEventsStream(t *testing.T) {
	e := start(t)
	e.createPod(t, "before")
	e.createEvent(t, "first", "Tested")
	viewer := e.login(t, viewerToken)

	if code, body := get(t, viewer, e.url+"/api/events/watch"); code != 403 || !strings.Contains(body, `User \"viewer\" cannot list resource \"events\"`) {
		t.Errorf("viewer's events of every namespace: %d %s, want the apiserver's Forbidden as JSON", code, body)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", e.url+"/api/events/watch?namespace="+ns, nil)
	resp, err := viewer.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("watch: %s %s", resp.Status, resp.Header.Get("Content-Type"))
	}
	events := readEvents(resp.Body)
	next := func(name, want string) sseEvent {
		t.Helper()
		for ev := range events {
			if ev.name == name && strings.Contains(ev.data, want) {
				return ev
			}
		}
		t.Fatalf("stream ended before a %s with %s", name, want)
		return sseEvent{}
	}
	if ev := next("reset", ""); !strings.Contains(ev.data, `"name":"first"`) || !strings.Contains(ev.data, `"reason":"Tested"`) || !strings.Contains(ev.data, `"object":"pod/before"`) {
		t.Fatalf("reset %s, want event first", ev.data)
	}
	e.createEvent(t, "second", "Appeared")
	next("upsert", `"name":"second"`)

	events2 := client.For[*corev1.Event](e.admin)
	ev, err := events2.Get(ctx, ns, "second")
	if err != nil {
		t.Fatal(err)
	}
	ev.Count = 2
	if _, err := events2.Update(ctx, ev); err != nil {
		t.Fatal(err)
	}
	if got := next("upsert", `"name":"second"`); !strings.Contains(got.data, `"count":2`) {
		t.Errorf("repeat %s, want count 2", got.data)
	}
	if _, err := events2.Delete(ctx, ns, "second", nil); err != nil {
		t.Fatal(err)
	}
	next("delete", `"name":"second"`)
}
