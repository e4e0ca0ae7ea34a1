package routes

import (
	"fmt"
	"testing"

	networkingv1 "minik8s/api/networking/v1"
)

// bigInput is n Ingresses, each with its own host, two paths and a
// Service with three endpoints.
func bigInput(n int) Input {
	in := Input{Classes: []*networkingv1.IngressClass{class("minik8s", ControllerName, true)}}
	for i := range n {
		name := fmt.Sprintf("svc-%d", i)
		s, e := service(name, fmt.Sprintf("10.1.%d.%d", i/250, i%250+1), fmt.Sprintf("10.2.%d.%d", i/250, i%250+1), fmt.Sprintf("10.3.%d.%d", i/250, i%250+1))
		in.Services = append(in.Services, s)
		in.Endpoints = append(in.Endpoints, e)
		in.Ingresses = append(in.Ingresses, ingress(fmt.Sprintf("ing-%d", i), i, "",
			rule(fmt.Sprintf("h%d.example.com", i), path{"Prefix", "/", name}, path{"Exact", "/api/v1", name})))
	}
	return in
}

// TestBuild1000Ingresses checks a big table serves every Ingress; how
// fast it builds is BenchmarkBuild1000's business (make bench), not a
// timed assertion here.
func TestBuild1000Ingresses(t *testing.T) {
	if tab := Build(bigInput(1000)); len(tab.Ingresses()) != 1000 {
		t.Fatalf("%d ingresses served", len(tab.Ingresses()))
	}
}

func BenchmarkBuild1000(b *testing.B) {
	in := bigInput(1000)
	b.ReportAllocs()
	for b.Loop() {
		Build(in)
	}
}

func BenchmarkMatch(b *testing.B) {
	tab := Build(bigInput(1000))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, be := tab.Match(fmt.Sprintf("h%d.example.com", i%1000), "/api/v1"); be == nil {
			b.Fatal("no match")
		}
	}
}
