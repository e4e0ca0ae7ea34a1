package app

import (
	"context"
	"fmt"
	"os"
	"sort"

	appsv1 "minik8s/api/apps/v1"
	authorizationv1 "minik8s/api/authorization/v1"
	autoscalingv2 "minik8s/api/autoscaling/v2"
	batchv1 "minik8s/api/batch/v1"
	certificatesv1 "minik8s/api/certificates/v1"
	"minik8s/api/client"
	coordinationv1 "minik8s/api/coordination/v1"
	corev1 "minik8s/api/core/v1"
	"minik8s/api/informer"
	metav1 "minik8s/api/meta/v1"
	policyv1 "minik8s/api/policy/v1"
	"minik8s/api/scheme"
	"minik8s/controller-manager/certificates/approver"
	"minik8s/controller-manager/certificates/cleaner"
	"minik8s/controller-manager/certificates/signer"
	"minik8s/controller-manager/daemonset"
	"minik8s/controller-manager/deployment"
	"minik8s/controller-manager/disruption"
	"minik8s/controller-manager/endpoints"
	"minik8s/controller-manager/job"
	"minik8s/controller-manager/nodeipam"
	"minik8s/controller-manager/nodelifecycle"
	"minik8s/controller-manager/podautoscaler"
	"minik8s/controller-manager/replicaset"
	"minik8s/controller-manager/resourcequota"
	"minik8s/controller-manager/rootcacertpublisher"
	"minik8s/controller-manager/serviceaccount"
	"minik8s/controller-manager/statefulset"
)

// registry maps controller names (as --controllers spells them) to their
// start functions.
var registry = map[string]StartFunc{
	"replicaset":               startReplicaSet,
	"replicationcontroller":    startReplicationController,
	"resourcequota":            startResourceQuota,
	"daemonset":                startDaemonSet,
	"disruption":               startDisruption,
	"deployment":               startDeployment,
	"endpoint":                 startEndpoints,
	"garbagecollector":         startGarbageCollector,
	"horizontalpodautoscaling": startHorizontalPodAutoscaler,
	"job":                      startJob,
	"namespace":                startNamespace,
	"nodeipam":                 startNodeIPAM,
	"nodelifecycle":            startNodeLifecycle,
	"root-ca-cert-publisher":   startRootCACertPublisher,
	approver.Name:              startCSRApproving,
	signer.Name:                startCSRSigning,
	cleaner.Name:               startCSRCleaner,
	"serviceaccount":           startServiceAccount,
	"statefulset":              startStatefulSet,
}

// disabledByDefault are controllers "*" does not include.
var disabledByDefault = map[string]bool{}

// KnownControllers lists every controller name, sorted.
func KnownControllers() []string {
	out := make([]string, 0, len(registry))
	for name := range registry {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

func startReplicaSet(_ context.Context, cc *Context) (func(context.Context) error, error) {
	kind := replicaset.ReplicaSets{}
	c := replicaset.New(replicaset.Config[*appsv1.ReplicaSet]{
		Kind: kind, API: client.For[*appsv1.ReplicaSet](cc.Client), Pods: client.For[*corev1.Pod](cc.Client),
		Informer:    informer.For[*appsv1.ReplicaSet](cc.Factory, ""),
		PodInformer: informer.For[*corev1.Pod](cc.Factory, ""),
		Recorder:    cc.Recorder(kind.Component()), Metrics: cc.Metrics,
	})
	return func(ctx context.Context) error { return c.Run(ctx, cc.Options.ConcurrentSyncs) }, nil
}

func startReplicationController(_ context.Context, cc *Context) (func(context.Context) error, error) {
	kind := replicaset.ReplicationControllers{}
	c := replicaset.New(replicaset.Config[*corev1.ReplicationController]{
		Kind: kind, API: client.For[*corev1.ReplicationController](cc.Client), Pods: client.For[*corev1.Pod](cc.Client),
		Informer:    informer.For[*corev1.ReplicationController](cc.Factory, ""),
		PodInformer: informer.For[*corev1.Pod](cc.Factory, ""),
		Recorder:    cc.Recorder(kind.Component()), Metrics: cc.Metrics,
	})
	return func(ctx context.Context) error { return c.Run(ctx, cc.Options.ConcurrentSyncs) }, nil
}

func startDeployment(_ context.Context, cc *Context) (func(context.Context) error, error) {
	c := deployment.New(deployment.Config{
		Deployments: client.For[*appsv1.Deployment](cc.Client), ReplicaSets: client.For[*appsv1.ReplicaSet](cc.Client),
		DInformer:   informer.For[*appsv1.Deployment](cc.Factory, ""),
		RSInformer:  informer.For[*appsv1.ReplicaSet](cc.Factory, ""),
		PodInformer: informer.For[*corev1.Pod](cc.Factory, ""),
		Recorder:    cc.Recorder(deployment.Component), Metrics: cc.Metrics,
	})
	return func(ctx context.Context) error { return c.Run(ctx, cc.Options.ConcurrentSyncs) }, nil
}

func startEndpoints(_ context.Context, cc *Context) (func(context.Context) error, error) {
	c := endpoints.New(endpoints.Config{
		Endpoints:         client.For[*corev1.Endpoints](cc.Client),
		ServiceInformer:   informer.For[*corev1.Service](cc.Factory, ""),
		PodInformer:       informer.For[*corev1.Pod](cc.Factory, ""),
		EndpointsInformer: informer.For[*corev1.Endpoints](cc.Factory, ""),
		Recorder:          cc.Recorder(endpoints.Component), Metrics: cc.Metrics,
	})
	return func(ctx context.Context) error { return c.Run(ctx, cc.Options.ConcurrentEndpoints) }, nil
}

// clientFor is the typed client of T on the shared connection.
func clientFor[T scheme.Object](cc *Context) *client.Resource[T] { return client.For[T](cc.Client) }

func startServiceAccount(_ context.Context, cc *Context) (func(context.Context) error, error) {
	c := serviceaccount.New(serviceaccount.Config{
		ServiceAccounts:   clientFor[*corev1.ServiceAccount](cc),
		NamespaceInformer: informer.For[*corev1.Namespace](cc.Factory, ""),
		SAInformer:        informer.For[*corev1.ServiceAccount](cc.Factory, ""),
		Metrics:           cc.Metrics,
	})
	return func(ctx context.Context) error { return c.Run(ctx, 2) }, nil
}

func startRootCACertPublisher(_ context.Context, cc *Context) (func(context.Context) error, error) {
	if cc.Options.RootCAFile == "" {
		return nil, nil
	}
	ca, err := os.ReadFile(cc.Options.RootCAFile)
	if err != nil {
		return nil, fmt.Errorf("--root-ca-file: %w", err)
	}
	c := rootcacertpublisher.New(rootcacertpublisher.Config{
		ConfigMaps:        clientFor[*corev1.ConfigMap](cc),
		NamespaceInformer: informer.For[*corev1.Namespace](cc.Factory, ""),
		ConfigMapInformer: informer.For[*corev1.ConfigMap](cc.Factory, ""),
		RootCA:            ca, Metrics: cc.Metrics,
	})
	return func(ctx context.Context) error { return c.Run(ctx, 2) }, nil
}

func startNodeLifecycle(_ context.Context, cc *Context) (func(context.Context) error, error) {
	o := cc.Options
	c := nodelifecycle.New(nodelifecycle.Config{
		Nodes: clientFor[*corev1.Node](cc), Pods: clientFor[*corev1.Pod](cc),
		NodeInformer:  informer.For[*corev1.Node](cc.Factory, ""),
		LeaseInformer: informer.For[*coordinationv1.Lease](cc.Factory, "kube-node-lease"),
		PodInformer:   informer.For[*corev1.Pod](cc.Factory, ""),
		Recorder:      cc.Recorder(nodelifecycle.Component), Metrics: cc.Metrics,
		MonitorPeriod: o.NodeMonitorPeriod, GracePeriod: o.NodeMonitorGrace, PodEvictionTimeout: o.PodEvictionTimeout,
	})
	return func(ctx context.Context) error { return c.Run(ctx, 2) }, nil
}

func startNodeIPAM(_ context.Context, cc *Context) (func(context.Context) error, error) {
	if !cc.Options.AllocateNodeCIDRs {
		return nil, nil
	}
	c, err := nodeipam.New(nodeipam.Config{
		Nodes: clientFor[*corev1.Node](cc), NodeInformer: informer.For[*corev1.Node](cc.Factory, ""),
		ClusterCIDR: cc.Options.ClusterCIDR, MaskSize: cc.Options.NodeCIDRMaskSize,
		Recorder: cc.Recorder(nodeipam.Component), Metrics: cc.Metrics,
	})
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context) error { return c.Run(ctx, 1) }, nil
}

func startDaemonSet(_ context.Context, cc *Context) (func(context.Context) error, error) {
	c := daemonset.New(daemonset.Config{
		DaemonSets: clientFor[*appsv1.DaemonSet](cc), Pods: clientFor[*corev1.Pod](cc),
		DSInformer:   informer.For[*appsv1.DaemonSet](cc.Factory, ""),
		NodeInformer: informer.For[*corev1.Node](cc.Factory, ""),
		PodInformer:  informer.For[*corev1.Pod](cc.Factory, ""),
		Recorder:     cc.Recorder(daemonset.Component), Metrics: cc.Metrics,
	})
	return func(ctx context.Context) error { return c.Run(ctx, cc.Options.ConcurrentSyncs) }, nil
}

func startJob(_ context.Context, cc *Context) (func(context.Context) error, error) {
	c := job.New(job.Config{
		Jobs: clientFor[*batchv1.Job](cc), Pods: clientFor[*corev1.Pod](cc),
		JobInformer: informer.For[*batchv1.Job](cc.Factory, ""),
		PodInformer: informer.For[*corev1.Pod](cc.Factory, ""),
		Recorder:    cc.Recorder(job.Component), Metrics: cc.Metrics,
	})
	return func(ctx context.Context) error { return c.Run(ctx, cc.Options.ConcurrentSyncs) }, nil
}

func startStatefulSet(_ context.Context, cc *Context) (func(context.Context) error, error) {
	c := statefulset.New(statefulset.Config{
		StatefulSets: clientFor[*appsv1.StatefulSet](cc), Pods: clientFor[*corev1.Pod](cc),
		SetInformer: informer.For[*appsv1.StatefulSet](cc.Factory, ""),
		PodInformer: informer.For[*corev1.Pod](cc.Factory, ""),
		Recorder:    cc.Recorder(statefulset.Component), Metrics: cc.Metrics,
	})
	return func(ctx context.Context) error { return c.Run(ctx, cc.Options.ConcurrentSyncs) }, nil
}

func startHorizontalPodAutoscaler(_ context.Context, cc *Context) (func(context.Context) error, error) {
	o := cc.Options
	c := podautoscaler.New(podautoscaler.Config{
		HPAs:        clientFor[*autoscalingv2.HorizontalPodAutoscaler](cc),
		HPAInformer: informer.For[*autoscalingv2.HorizontalPodAutoscaler](cc.Factory, ""),
		PodInformer: informer.For[*corev1.Pod](cc.Factory, ""),
		Targets: podautoscaler.Targets{Deployments: clientFor[*appsv1.Deployment](cc),
			ReplicaSets: clientFor[*appsv1.ReplicaSet](cc), StatefulSets: clientFor[*appsv1.StatefulSet](cc)},
		// Usage comes from the kubelets' stats summaries through the
		// apiserver's node proxy: this cluster has no metrics-server.
		Stats:    cc.Client,
		Recorder: cc.Recorder(podautoscaler.Component), Metrics: cc.Metrics,
		SyncPeriod: o.HPASyncPeriod, DownscaleStabilization: o.HPADownscaleStabilization, Tolerance: o.HPATolerance,
		CPUInitializationPeriod: o.HPACPUInitializationPeriod, InitialReadinessDelay: o.HPAInitialReadinessDelay,
	})
	return func(ctx context.Context) error { return c.Run(ctx, o.ConcurrentHPASyncs) }, nil
}

func startResourceQuota(_ context.Context, cc *Context) (func(context.Context) error, error) {
	c := resourcequota.New(resourcequota.Config{
		Quotas:                        clientFor[*corev1.ResourceQuota](cc),
		QuotaInformer:                 informer.For[*corev1.ResourceQuota](cc.Factory, ""),
		PodInformer:                   informer.For[*corev1.Pod](cc.Factory, ""),
		ServiceInformer:               informer.For[*corev1.Service](cc.Factory, ""),
		ConfigMapInformer:             informer.For[*corev1.ConfigMap](cc.Factory, ""),
		SecretInformer:                informer.For[*corev1.Secret](cc.Factory, ""),
		ReplicationControllerInformer: informer.For[*corev1.ReplicationController](cc.Factory, ""),
		List:                          resourcequota.ClientLister(cc.Client),
		SyncPeriod:                    cc.Options.ResourceQuotaSyncPeriod, Metrics: cc.Metrics,
	})
	return func(ctx context.Context) error { return c.Run(ctx, cc.Options.ConcurrentResourceQuotaSyncs) }, nil
}

func startDisruption(_ context.Context, cc *Context) (func(context.Context) error, error) {
	c := disruption.New(disruption.Config{
		Budgets:                       clientFor[*policyv1.PodDisruptionBudget](cc),
		BudgetInformer:                informer.For[*policyv1.PodDisruptionBudget](cc.Factory, ""),
		PodInformer:                   informer.For[*corev1.Pod](cc.Factory, ""),
		ReplicationControllerInformer: informer.For[*corev1.ReplicationController](cc.Factory, ""),
		ReplicaSetInformer:            informer.For[*appsv1.ReplicaSet](cc.Factory, ""),
		DeploymentInformer:            informer.For[*appsv1.Deployment](cc.Factory, ""),
		StatefulSetInformer:           informer.For[*appsv1.StatefulSet](cc.Factory, ""),
		Recorder:                      cc.Recorder(disruption.Component), Metrics: cc.Metrics,
	})
	return func(ctx context.Context) error { return c.Run(ctx, cc.Options.ConcurrentSyncs) }, nil
}

// csrClient is the typed CertificateSigningRequest client.
func csrClient(cc *Context) *client.Resource[*certificatesv1.CertificateSigningRequest] {
	return clientFor[*certificatesv1.CertificateSigningRequest](cc)
}

func startCSRApproving(_ context.Context, cc *Context) (func(context.Context) error, error) {
	csrs := csrClient(cc)
	sars := clientFor[*authorizationv1.SubjectAccessReview](cc)
	c := approver.New(approver.Config{
		Informer:     informer.For[*certificatesv1.CertificateSigningRequest](cc.Factory, ""),
		NodeInformer: informer.For[*corev1.Node](cc.Factory, ""),
		Approve: func(ctx context.Context, csr *certificatesv1.CertificateSigningRequest) (*certificatesv1.CertificateSigningRequest, error) {
			return csrs.UpdateSubresource(ctx, csr, "approval")
		},
		Review:  sars.Create,
		Metrics: cc.Metrics,
	})
	return func(ctx context.Context) error { return c.Run(ctx, 2) }, nil
}

func startCSRSigning(_ context.Context, cc *Context) (func(context.Context) error, error) {
	o := cc.Options
	if o.ClusterSigningCertFile == "" || o.ClusterSigningKeyFile == "" {
		cc.Log.Info("csrsigning not started: no --cluster-signing-cert-file and --cluster-signing-key-file")
		return nil, nil
	}
	ca, err := signer.LoadCA(o.ClusterSigningCertFile, o.ClusterSigningKeyFile)
	if err != nil {
		return nil, err
	}
	c := signer.New(signer.Config{
		Informer:     informer.For[*certificatesv1.CertificateSigningRequest](cc.Factory, ""),
		UpdateStatus: csrClient(cc).UpdateStatus,
		CA:           ca, Duration: o.ClusterSigningDuration, Metrics: cc.Metrics,
	})
	return func(ctx context.Context) error { return c.Run(ctx, 2) }, nil
}

func startCSRCleaner(_ context.Context, cc *Context) (func(context.Context) error, error) {
	csrs := csrClient(cc)
	c := cleaner.New(cleaner.Config{
		Informer: informer.For[*certificatesv1.CertificateSigningRequest](cc.Factory, ""),
		Delete: func(ctx context.Context, name string, opts *metav1.DeleteOptions) error {
			_, err := csrs.Delete(ctx, "", name, opts)
			return err
		},
		Metrics: cc.Metrics,
	})
	return func(ctx context.Context) error { return c.Run(ctx, 1) }, nil
}
