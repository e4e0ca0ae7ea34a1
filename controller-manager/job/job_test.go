package job

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	batchv1 "minik8s/api/batch/v1"
	"minik8s/api/client/fake"
	corev1 "minik8s/api/core/v1"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/record"
	"minik8s/controller-manager/controller"
)

var now = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func newJob(completions, parallelism *int32) *batchv1.Job {
	l := map[string]string{"batch.kubernetes.io/controller-uid": "job-uid", "batch.kubernetes.io/job-name": "pi"}
	return &batchv1.Job{
		ApiVersion: "batch/v1", Kind: "Job",
		Metadata: &metav1.ObjectMeta{Name: "pi", Namespace: "default", Uid: "job-uid", ResourceVersion: "1"},
		Spec: &batchv1.JobSpec{
			Completions: completions, Parallelism: parallelism, BackoffLimit: proto.Int32(2),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"batch.kubernetes.io/controller-uid": "job-uid"}},
			Template: &corev1.PodTemplateSpec{Metadata: &metav1.ObjectMeta{Labels: l},
				Spec: &corev1.PodSpec{RestartPolicy: "Never", Containers: []*corev1.Container{{Name: "pi", Image: "perl"}}}},
		},
		Status: &batchv1.JobStatus{StartTime: timestamppb.New(now.Add(-time.Minute))},
	}
}

func jobPod(j *batchv1.Job, name, phase string) *corev1.Pod {
	p := controller.PodFromTemplate(j.Spec.Template, "default", "", controller.NewControllerRef(j, "batch/v1", "Job"))
	p.Metadata.Name, p.Metadata.Uid = name, "uid-"+name
	p.Metadata.CreationTimestamp = timestamppb.New(now.Add(-time.Minute))
	p.Status = &corev1.PodStatus{Phase: phase}
	if phase == "Failed" {
		p.Status.ContainerStatuses = []*corev1.ContainerStatus{{State: &corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			ExitCode: 1, FinishedAt: timestamppb.New(now.Add(-30 * time.Second))}}}}
	}
	return p
}

func TestWantActive(t *testing.T) {
	for _, tt := range []struct {
		completions, parallelism *int32
		succeeded, want          int32
	}{
		{proto.Int32(5), proto.Int32(2), 0, 2},
		{proto.Int32(5), proto.Int32(2), 4, 1},
		{proto.Int32(5), proto.Int32(2), 5, 0},
		{nil, proto.Int32(3), 0, 3}, // work queue
		{nil, proto.Int32(3), 1, 0},
	} {
		if got := WantActive(newJob(tt.completions, tt.parallelism), tt.succeeded); got != tt.want {
			t.Errorf("completions %v parallelism %v succeeded %d: %d, want %d", tt.completions, tt.parallelism, tt.succeeded, got, tt.want)
		}
	}
}

type fixture struct {
	c    *Controller
	jobs *fake.API[*batchv1.Job]
	pods *fake.API[*corev1.Pod]
	rec  *record.Fake
}

func setup(t *testing.T, j *batchv1.Job, pods ...*corev1.Pod) *fixture {
	f := &fixture{jobs: fake.NewAPI(j), pods: fake.NewAPI(pods...), rec: &record.Fake{}}
	f.c = New(Config{Jobs: f.jobs, Pods: f.pods, JobInformer: fake.Informer(t, j), PodInformer: fake.Informer(t, pods...),
		Recorder: f.rec, Now: func() time.Time { return now }})
	if err := f.c.sync(context.Background(), "default/pi"); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) job(t *testing.T) *batchv1.Job {
	j, err := f.jobs.Get(context.Background(), "default", "pi")
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func conditions(j *batchv1.Job) []string {
	var out []string
	for _, c := range j.GetStatus().GetConditions() {
		out = append(out, c.Type+"/"+c.Reason)
	}
	return out
}

func count(actions []string, prefix string) int {
	n := 0
	for _, a := range actions {
		if strings.HasPrefix(a, prefix) {
			n++
		}
	}
	return n
}

func TestSync(t *testing.T) {
	five, two := proto.Int32(5), proto.Int32(2)
	t.Run("starts parallelism pods", func(t *testing.T) {
		f := setup(t, newJob(five, two))
		if n := count(f.pods.Actions(), "create "); n != 2 {
			t.Fatalf("created %d pods, want 2", n)
		}
		if j := f.job(t); j.Status.Active != 2 {
			t.Fatalf("active %d", j.Status.Active)
		}
	})
	t.Run("replaces finished pods with the completions still missing", func(t *testing.T) {
		j := newJob(five, two)
		f := setup(t, j, jobPod(j, "a", "Succeeded"), jobPod(j, "b", "Succeeded"), jobPod(j, "c", "Succeeded"), jobPod(j, "d", "Running"))
		if n := count(f.pods.Actions(), "create "); n != 1 {
			t.Fatalf("created %d pods, want 1 (2 parallel, 1 running, 1 completion missing besides it)", n)
		}
	})
	t.Run("completes", func(t *testing.T) {
		j := newJob(five, two)
		var pods []*corev1.Pod
		for i := range 5 {
			pods = append(pods, jobPod(j, fmt.Sprint("p", i), "Succeeded"))
		}
		f := setup(t, j, pods...)
		got := f.job(t)
		if !slices.Equal(conditions(got), []string{"Complete/"}) || got.Status.Succeeded != 5 || got.Status.CompletionTime == nil {
			t.Fatalf("status %v", got.Status)
		}
		if !slices.Contains(f.rec.Events(), "Normal Completed Job completed") {
			t.Fatalf("events %v", f.rec.Events())
		}
	})
	t.Run("backoff limit", func(t *testing.T) {
		j := newJob(five, two)
		f := setup(t, j, jobPod(j, "a", "Failed"), jobPod(j, "b", "Failed"), jobPod(j, "c", "Failed"), jobPod(j, "d", "Running"))
		got := f.job(t)
		if !slices.Equal(conditions(got), []string{"Failed/BackoffLimitExceeded"}) || got.Status.Failed != 3 || got.Status.Active != 0 {
			t.Fatalf("status %v", got.Status)
		}
		if !slices.Contains(f.pods.Actions(), "delete default/d") {
			t.Fatalf("the running pod of a failed job was not deleted: %v", f.pods.Actions())
		}
	})
	t.Run("failed pods are replaced after a back-off", func(t *testing.T) {
		j := newJob(five, two)
		recent := jobPod(j, "a", "Failed")
		recent.Status.ContainerStatuses[0].State.Terminated.FinishedAt = timestamppb.New(now.Add(-5 * time.Second))
		f := setup(t, j, recent)
		if n := count(f.pods.Actions(), "create "); n != 0 {
			t.Fatalf("created %d pods 5s after a failure; the first back-off is 10s", n)
		}
		f = setup(t, j, jobPod(j, "a", "Failed")) // failed 30s ago
		if n := count(f.pods.Actions(), "create "); n != 2 {
			t.Fatalf("created %d pods after the back-off, want 2", n)
		}
	})
	t.Run("active deadline", func(t *testing.T) {
		j := newJob(five, two)
		j.Spec.ActiveDeadlineSeconds = proto.Int64(30)
		f := setup(t, j, jobPod(j, "a", "Running"))
		if got := conditions(f.job(t)); !slices.Equal(got, []string{"Failed/DeadlineExceeded"}) {
			t.Fatalf("conditions %v", got)
		}
	})
	t.Run("ttl after finished", func(t *testing.T) {
		j := newJob(five, two)
		j.Spec.TtlSecondsAfterFinished = proto.Int32(10)
		j.Status.Conditions = []*batchv1.JobCondition{{Type: "Complete", Status: "True"}}
		j.Status.CompletionTime = timestamppb.New(now.Add(-11 * time.Second))
		f := setup(t, j)
		if !slices.Contains(f.jobs.Actions(), "delete default/pi") {
			t.Fatalf("finished job past its TTL not deleted: %v", f.jobs.Actions())
		}
	})
}
