// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package controllers

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	chatv1 "github.com/chathub/chathub/api/v1"
)

// Ports, names and keys of the NATS the replicas of a WebPubSubService share.
const (
	// DefaultNATSImage runs a managed NATS when neither spec.nats.managed.image
	// nor the manager's --nats-image names one.
	DefaultNATSImage = "nats:2.15.2"

	natsClientPort  = 4222
	natsClusterPort = 6222
	natsMonitorPort = 8222

	// natsUser is the user the PubSub service and the routes of a managed
	// NATS authenticate as; its password is generated into the NATS Secret.
	natsUser = "chathub"
	// SecretKeyNATSPassword and SecretKeyNATSConfig are the keys of a
	// managed NATS's Secret: the generated password, and the NATS
	// configuration file holding it.
	SecretKeyNATSPassword = "password"
	SecretKeyNATSConfig   = "nats.conf"

	// The keys of the user's Secrets for an external NATS.
	secretKeyNATSCreds    = "creds"
	secretKeyNATSUser     = "user"
	secretKeyNATSPassword = "password"
	secretKeyCA           = "ca.crt"
	secretKeyTLSCert      = "tls.crt"
	secretKeyTLSKey       = "tls.key"

	natsMountPath       = "/etc/chathub/nats"
	natsTLSMountPath    = "/etc/chathub/nats-tls"
	natsConfigMountPath = "/etc/nats"
	// natsPIDFile is where a NATS server writes its pid, for the pre-stop
	// hook that puts it in lame-duck mode (on the pod's writable /tmp).
	natsPIDFile   = "/tmp/nats.pid"
	componentNATS = "nats"
)

// NATSName is the name of the StatefulSet, headless Service, Secret and
// PodDisruptionBudget of the managed NATS of the WebPubSubService name.
func NATSName(name string) string { return name + "-nats" }

// instanceReplicas is spec.replicas, 1 when unset.
func instanceReplicas(svc *chatv1.WebPubSubService) int32 {
	if r := svc.Spec.Replicas; r != nil && *r > 0 {
		return *r
	}
	return 1
}

// managedNATSReplicas is spec.nats.managed.replicas, 3 when unset.
func managedNATSReplicas(m *chatv1.ManagedNATS) int32 {
	if m.Replicas != nil && *m.Replicas > 0 {
		return *m.Replicas
	}
	return 3
}

// natsLabels are the labels of a managed NATS's objects and pods.
func natsLabels(svc *chatv1.WebPubSubService) map[string]string {
	l := natsSelector(svc)
	l["app.kubernetes.io/managed-by"] = managerName
	return l
}

func natsSelector(svc *chatv1.WebPubSubService) map[string]string {
	return map[string]string{
		"app.kubernetes.io/name":      "chathub",
		"app.kubernetes.io/instance":  svc.Name,
		"app.kubernetes.io/component": componentNATS,
	}
}

// managedNATSURL is the client URL of a managed NATS: its headless Service
// resolves to every ready server, and the client learns the others from
// the cluster.
func managedNATSURL(svc *chatv1.WebPubSubService) string {
	return fmt.Sprintf("nats://%s.%s.svc:%d", NATSName(svc.Name), svc.Namespace, natsClientPort)
}

// natsRoutes are the cluster routes of a managed NATS: every server by its
// stable StatefulSet name.
func natsRoutes(svc *chatv1.WebPubSubService, replicas int32) []string {
	routes := make([]string, 0, replicas)
	for i := range replicas {
		routes = append(routes, fmt.Sprintf("nats://%s:$PASSWORD@%s-%d.%s.%s.svc:%d",
			natsUser, NATSName(svc.Name), i, NATSName(svc.Name), svc.Namespace, natsClusterPort))
	}
	return routes
}

// buildNATSConfig is the configuration file of a managed NATS, in the
// style of NATS's own Helm chart: clients, cluster routes and monitoring on
// the well-known ports, the server name from the pod, a pid file and a
// lame-duck period for the pre-stop hook, and the one user (clients and
// routes) with the generated password.
func buildNATSConfig(svc *chatv1.WebPubSubService, replicas int32, password string) []byte {
	var b strings.Builder
	routes := natsRoutes(svc, replicas)
	for i := range routes {
		routes[i] = strconv.Quote(strings.ReplaceAll(routes[i], "$PASSWORD", password))
	}
	fmt.Fprintf(&b, "# Written by the ChatHub operator for WebPubSubService %s; edits are overwritten.\n", svc.Name)
	fmt.Fprintf(&b, "server_name: $POD_NAME\n")
	fmt.Fprintf(&b, "port: %d\n", natsClientPort)
	fmt.Fprintf(&b, "http_port: %d\n", natsMonitorPort)
	fmt.Fprintf(&b, "pid_file: %q\n", natsPIDFile)
	fmt.Fprintf(&b, "lame_duck_duration: \"30s\"\n")
	fmt.Fprintf(&b, "lame_duck_grace_period: \"10s\"\n")
	fmt.Fprintf(&b, "max_payload: %d\n", 8<<20)
	fmt.Fprintf(&b, "authorization {\n  user: %q\n  password: %q\n}\n", natsUser, password)
	if replicas > 1 {
		fmt.Fprintf(&b, "cluster {\n  name: %q\n  port: %d\n", svc.Name, natsClusterPort)
		fmt.Fprintf(&b, "  authorization {\n    user: %q\n    password: %q\n  }\n", natsUser, password)
		fmt.Fprintf(&b, "  routes: [\n    %s\n  ]\n}\n", strings.Join(routes, "\n    "))
	}
	return []byte(b.String())
}

// ensureNATS runs the managed NATS of svc (Secret, headless Service,
// StatefulSet, PodDisruptionBudget) and returns its StatefulSet; nil
// without a managed NATS. An external NATS's Secrets are checked, never
// changed, and what they hold is returned.
func (r *WebPubSubServiceReconciler) ensureNATS(ctx context.Context, svc *chatv1.WebPubSubService) (*appsv1.StatefulSet, natsAccess, error) {
	n := svc.Spec.NATS
	if n == nil {
		return nil, natsAccess{}, nil
	}
	if n.External != nil {
		access, err := r.checkExternalNATS(ctx, svc, n.External)
		return nil, access, err
	}
	if n.Managed == nil {
		return nil, natsAccess{}, nil
	}
	replicas := managedNATSReplicas(n.Managed)
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: NATSName(svc.Name), Namespace: svc.Namespace}}
	_, err := controllerutil.CreateOrPatch(ctx, r.Client, s, func() error {
		if err := mustControl(svc, s, "Secret"); err != nil {
			return err
		}
		s.Labels = mergeLabels(s.Labels, natsLabels(svc))
		s.Type = corev1.SecretTypeOpaque
		password := string(s.Data[SecretKeyNATSPassword])
		if len(password) < 32 {
			b := make([]byte, 24)
			if _, err := rand.Read(b); err != nil {
				return fmt.Errorf("generating the NATS password: %w", err)
			}
			password = hex.EncodeToString(b)
		}
		s.Data = map[string][]byte{
			SecretKeyNATSPassword: []byte(password),
			SecretKeyNATSConfig:   buildNATSConfig(svc, replicas, password),
		}
		return ctrl.SetControllerReference(svc, s, r.Scheme)
	})
	if err := applyErrorOf("WebPubSubService", "Secret", s.Name, err); err != nil {
		return nil, natsAccess{}, fmt.Errorf("writing the NATS Secret: %w", err)
	}
	if err := applyOwnedService(ctx, r.Client, r.Scheme, svc, buildNATSService(svc)); err != nil {
		return nil, natsAccess{}, fmt.Errorf("applying the NATS Service: %w", err)
	}
	sts, err := r.applyNATSStatefulSet(ctx, svc, buildNATSStatefulSet(svc, r.natsImage(svc), configHash(s.Data[SecretKeyNATSConfig])))
	if err != nil {
		return nil, natsAccess{}, err
	}
	var pdb *policyv1.PodDisruptionBudget
	if replicas > 1 {
		pdb = &policyv1.PodDisruptionBudget{
			ObjectMeta: metav1.ObjectMeta{Name: NATSName(svc.Name), Namespace: svc.Namespace, Labels: natsLabels(svc)},
			Spec: policyv1.PodDisruptionBudgetSpec{
				MaxUnavailable: ptr.To(intstr.FromInt32(1)), Selector: &metav1.LabelSelector{MatchLabels: natsSelector(svc)},
				UnhealthyPodEvictionPolicy: ptr.To(policyv1.AlwaysAllow),
			},
		}
	}
	if err := applyOwnedPDB(ctx, r.Client, r.Scheme, svc, NATSName(svc.Name), pdb); err != nil {
		return nil, natsAccess{}, err
	}
	return sts, natsAccess{}, nil
}

// configHash is the pod-template annotation that rolls a managed NATS when
// its configuration changes.
func configHash(config []byte) string {
	sum := sha256.Sum256(config)
	return hex.EncodeToString(sum[:])
}

// natsImage is the image of svc's managed NATS.
func (r *WebPubSubServiceReconciler) natsImage(svc *chatv1.WebPubSubService) string {
	if m := svc.Spec.NATS.Managed; m != nil && m.Image != "" {
		return m.Image
	}
	if r.NATSImage != "" {
		return r.NATSImage
	}
	return DefaultNATSImage
}

// checkExternalNATS checks that the Secrets an external NATS names exist
// and hold the keys the pods mount: a problem the user can act on rather
// than pods stuck in ContainerCreating. The user's Secrets are read around
// the cache (which holds only the operator's own) and looked at again every
// RetryInterval until they are right.
func (r *WebPubSubServiceReconciler) checkExternalNATS(ctx context.Context, svc *chatv1.WebPubSubService, ext *chatv1.ExternalNATS) (natsAccess, error) {
	var access natsAccess
	check := func(ref *corev1.LocalObjectReference, field string, ok func(map[string][]byte) string) error {
		if ref == nil {
			return nil
		}
		var s corev1.Secret
		var reader client.Reader = r.Client
		if r.APIReader != nil {
			reader = r.APIReader
		}
		err := reader.Get(ctx, types.NamespacedName{Namespace: svc.Namespace, Name: ref.Name}, &s)
		if apierrors.IsNotFound(err) {
			return &problem{reason: chatv1.ReasonSourceSecretNotFound, retry: true, message: fmt.Sprintf("spec.nats.external.%s: Secret %s not found in namespace %s", field, ref.Name, svc.Namespace)}
		}
		if err != nil {
			return fmt.Errorf("getting Secret %s: %w", ref.Name, err)
		}
		if msg := ok(s.Data); msg != "" {
			return &problem{reason: chatv1.ReasonSourceSecretKeyMissing, retry: true, message: fmt.Sprintf("spec.nats.external.%s: Secret %s %s", field, ref.Name, msg)}
		}
		return nil
	}
	if err := check(ext.CredentialsSecretRef, "credentialsSecretRef", func(d map[string][]byte) string {
		_, creds := d[secretKeyNATSCreds]
		_, user := d[secretKeyNATSUser]
		_, pass := d[secretKeyNATSPassword]
		access.creds, access.userPassword = creds, user && pass
		switch {
		case creds && (user || pass):
			return `holds both "creds" and "user"/"password": keep one way to sign in`
		case !creds && (!user || !pass):
			return `needs key "creds" (a NATS credentials file) or keys "user" and "password"`
		}
		return ""
	}); err != nil {
		return access, err
	}
	err := check(ext.TLSSecretRef, "tlsSecretRef", func(d map[string][]byte) string {
		_, crt := d[secretKeyTLSCert]
		_, key := d[secretKeyTLSKey]
		access.clientCert = crt && key
		switch {
		case len(d[secretKeyCA]) == 0:
			return `lacks key "ca.crt" (the CA that signed the NATS servers' certificates)`
		case crt != key:
			return `needs both "tls.crt" and "tls.key" for mutual TLS, or neither`
		}
		return ""
	})
	return access, err
}

// buildNATSService is the headless Service of a managed NATS: it gives
// every server a stable name for the routes (ready or not, so that the
// cluster can form) and resolves the client URL to the servers.
func buildNATSService(svc *chatv1.WebPubSubService) *corev1.Service {
	port := func(name string, p int32) corev1.ServicePort {
		return corev1.ServicePort{Name: name, Port: p, TargetPort: intstr.FromString(name), Protocol: corev1.ProtocolTCP}
	}
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: NATSName(svc.Name), Namespace: svc.Namespace, Labels: natsLabels(svc)},
		Spec: corev1.ServiceSpec{
			Type:                     corev1.ServiceTypeClusterIP,
			ClusterIP:                corev1.ClusterIPNone,
			PublishNotReadyAddresses: true,
			Selector:                 natsSelector(svc),
			Ports:                    []corev1.ServicePort{port("client", natsClientPort), port("cluster", natsClusterPort), port("monitor", natsMonitorPort)},
		},
	}
}

// buildNATSStatefulSet is the desired StatefulSet of a managed NATS: the
// servers start in parallel (routes retry), each named after its pod,
// with the configuration from the NATS Secret; configHash rolls them when
// it changes.
func buildNATSStatefulSet(svc *chatv1.WebPubSubService, image, configHash string) *appsv1.StatefulSet {
	m := svc.Spec.NATS.Managed
	res := m.Resources
	if res.Requests == nil && res.Limits == nil {
		res.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("50m"), corev1.ResourceMemory: resource.MustParse("64Mi")}
	}
	probe := func(path string, period int32) *corev1.Probe {
		return &corev1.Probe{
			ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path, Port: intstr.FromString("monitor"), Scheme: corev1.URISchemeHTTP}},
			PeriodSeconds: period, TimeoutSeconds: 1, SuccessThreshold: 1, FailureThreshold: 3,
		}
	}
	c := corev1.Container{
		Name:  componentNATS,
		Image: image,
		Args:  []string{"--config", natsConfigMountPath + "/" + SecretKeyNATSConfig},
		Env: []corev1.EnvVar{{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{
			FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.name"},
		}}},
		Ports: []corev1.ContainerPort{
			{Name: "client", ContainerPort: natsClientPort, Protocol: corev1.ProtocolTCP},
			{Name: "cluster", ContainerPort: natsClusterPort, Protocol: corev1.ProtocolTCP},
			{Name: "monitor", ContainerPort: natsMonitorPort, Protocol: corev1.ProtocolTCP},
		},
		ReadinessProbe: probe("/healthz", 5),
		LivenessProbe:  probe("/healthz", 10),
		Resources:      res,
		// Lame-duck mode before the pod stops, as NATS's own chart does: the
		// server stops accepting clients and moves its clients to the others
		// over the lame-duck period instead of dropping them at once.
		Lifecycle: &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{
			Command: []string{"/nats-server", "--signal", "ldm=" + natsPIDFile},
		}}},
	}
	pod := basePodSpec(c,
		[]corev1.VolumeMount{{Name: "config", MountPath: natsConfigMountPath, ReadOnly: true}},
		[]corev1.Volume{{Name: "config", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
			SecretName: NATSName(svc.Name), DefaultMode: ptr.To[int32](0o440),
			Items: []corev1.KeyToPath{{Key: SecretKeyNATSConfig, Path: SecretKeyNATSConfig}},
		}}}})
	pod.TerminationGracePeriodSeconds = ptr.To[int64](60) // beyond the lame-duck period
	template := corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: natsLabels(svc), Annotations: map[string]string{ConnectionHashAnnotation: configHash}},
		Spec:       pod,
	}
	withScheduling(&template, &svc.Spec.PodSchedulingSpec)
	return &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: NATSName(svc.Name), Namespace: svc.Namespace, Labels: natsLabels(svc)},
		Spec: appsv1.StatefulSetSpec{
			Replicas:            ptr.To(managedNATSReplicas(m)),
			ServiceName:         NATSName(svc.Name),
			PodManagementPolicy: appsv1.ParallelPodManagement,
			Selector:            &metav1.LabelSelector{MatchLabels: natsSelector(svc)},
			Template:            template,
			UpdateStrategy:      appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType},
		},
	}
}

// applyNATSStatefulSet creates or patches the StatefulSet of a managed NATS.
func (r *WebPubSubServiceReconciler) applyNATSStatefulSet(ctx context.Context, svc *chatv1.WebPubSubService, want *appsv1.StatefulSet) (*appsv1.StatefulSet, error) {
	sts := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: want.Name, Namespace: want.Namespace}}
	_, err := controllerutil.CreateOrPatch(ctx, r.Client, sts, func() error {
		if err := mustControl(svc, sts, "StatefulSet"); err != nil {
			return err
		}
		sts.Labels = mergeLabels(sts.Labels, want.Labels)
		if sts.CreationTimestamp.IsZero() {
			// Immutable once created.
			sts.Spec.Selector = want.Spec.Selector
			sts.Spec.ServiceName = want.Spec.ServiceName
			sts.Spec.PodManagementPolicy = want.Spec.PodManagementPolicy
		}
		sts.Spec.Replicas = want.Spec.Replicas
		sts.Spec.UpdateStrategy = want.Spec.UpdateStrategy
		annotations := mergeLabels(sts.Spec.Template.Annotations, want.Spec.Template.Annotations)
		sts.Spec.Template = *want.Spec.Template.DeepCopy()
		sts.Spec.Template.Annotations = annotations
		return ctrl.SetControllerReference(svc, sts, r.Scheme)
	})
	if err := applyErrorOf("WebPubSubService", "StatefulSet", want.Name, err); err != nil {
		return nil, fmt.Errorf("applying the NATS StatefulSet: %w", err)
	}
	return sts, nil
}

// natsAccess is what the Secrets of an external NATS hold, as
// checkExternalNATS found them: it decides the flags and the mounted keys.
type natsAccess struct {
	creds        bool // "creds": a NATS credentials file
	userPassword bool // "user" and "password"
	clientCert   bool // "tls.crt" and "tls.key": mutual TLS
}

// natsSubjectPrefix starts the NATS subjects of svc's replicas: an external
// NATS may carry several instances (of one namespace or many), which must
// never hear each other.
func natsSubjectPrefix(svc *chatv1.WebPubSubService) string {
	return "chathub." + svc.Namespace + "." + svc.Name
}

// natsArgs are the PubSub service's flags for svc's NATS; nil without one.
func natsArgs(svc *chatv1.WebPubSubService, access natsAccess) []string {
	n := svc.Spec.NATS
	switch {
	case n == nil:
		return nil
	case n.Managed != nil:
		return []string{"--nats-url", managedNATSURL(svc), "--nats-subject-prefix", natsSubjectPrefix(svc),
			"--nats-user", natsUser, "--nats-password-file", natsMountPath + "/" + secretKeyNATSPassword}
	}
	ext := n.External
	args := []string{"--nats-url", ext.URL, "--nats-subject-prefix", natsSubjectPrefix(svc)}
	switch {
	case ext.CredentialsSecretRef == nil:
	case access.creds:
		args = append(args, "--nats-creds-file", natsMountPath+"/"+secretKeyNATSCreds)
	case access.userPassword:
		// The user comes from the Secret through $CHATHUB_NATS_USER (natsEnv).
		args = append(args, "--nats-password-file", natsMountPath+"/"+secretKeyNATSPassword)
	}
	if ext.TLSSecretRef != nil {
		args = append(args, "--nats-tls-ca-file", natsTLSMountPath+"/"+secretKeyCA)
		if access.clientCert {
			args = append(args, "--nats-tls-cert-file", natsTLSMountPath+"/"+secretKeyTLSCert,
				"--nats-tls-key-file", natsTLSMountPath+"/"+secretKeyTLSKey)
		}
	}
	return args
}

// natsEnv is the environment of the PubSub container for svc's NATS: the
// user of an external NATS's user and password, from its Secret.
func natsEnv(svc *chatv1.WebPubSubService, access natsAccess) []corev1.EnvVar {
	n := svc.Spec.NATS
	if n == nil || n.External == nil || n.External.CredentialsSecretRef == nil || !access.userPassword || access.creds {
		return nil
	}
	return []corev1.EnvVar{{Name: "CHATHUB_NATS_USER", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
		LocalObjectReference: *n.External.CredentialsSecretRef, Key: secretKeyNATSUser,
	}}}}
}

// natsVolumes are the Secret volumes and mounts of svc's NATS credentials
// and TLS files: only the keys the flags name.
func natsVolumes(svc *chatv1.WebPubSubService, access natsAccess) ([]corev1.VolumeMount, []corev1.Volume) {
	n := svc.Spec.NATS
	if n == nil {
		return nil, nil
	}
	secret := func(name, secretName string, keys ...string) corev1.Volume {
		v := corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
			SecretName: secretName, DefaultMode: ptr.To[int32](0o440),
		}}}
		for _, k := range keys {
			v.Secret.Items = append(v.Secret.Items, corev1.KeyToPath{Key: k, Path: k})
		}
		return v
	}
	var mounts []corev1.VolumeMount
	var volumes []corev1.Volume
	add := func(v corev1.Volume, path string) {
		volumes = append(volumes, v)
		mounts = append(mounts, corev1.VolumeMount{Name: v.Name, MountPath: path, ReadOnly: true})
	}
	switch {
	case n.Managed != nil:
		add(secret("nats", NATSName(svc.Name), SecretKeyNATSPassword), natsMountPath)
	case n.External != nil:
		if ref := n.External.CredentialsSecretRef; ref != nil && access.creds {
			add(secret("nats", ref.Name, secretKeyNATSCreds), natsMountPath)
		} else if ref != nil && access.userPassword {
			add(secret("nats", ref.Name, secretKeyNATSPassword), natsMountPath)
		}
		if ref := n.External.TLSSecretRef; ref != nil {
			keys := []string{secretKeyCA}
			if access.clientCert {
				keys = append(keys, secretKeyTLSCert, secretKeyTLSKey)
			}
			add(secret("nats-tls", ref.Name, keys...), natsTLSMountPath)
		}
	}
	return mounts, volumes
}

// natsAvailable says whether svc's NATS can carry its hubs, and why not: a
// managed NATS needs a majority of its servers ready.
func natsAvailable(svc *chatv1.WebPubSubService, sts *appsv1.StatefulSet) (bool, string) {
	if svc.Spec.NATS == nil || svc.Spec.NATS.Managed == nil {
		return true, ""
	}
	want := managedNATSReplicas(svc.Spec.NATS.Managed)
	if sts == nil {
		return false, "Waiting for the NATS StatefulSet"
	}
	if ready := sts.Status.ReadyReplicas; ready < want/2+1 {
		return false, fmt.Sprintf("Waiting for NATS: %d of %d servers ready, %d needed", ready, want, want/2+1)
	}
	return true, ""
}
