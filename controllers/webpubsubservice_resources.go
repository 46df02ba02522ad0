// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package controllers

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	chatv1 "github.com/chathub/chathub/api/v1"
	"github.com/chathub/chathub/webpubsub"
)

// Names, keys and paths of a WebPubSubService's objects.
const (
	// SecretKeyPrimaryKey and SecretKeySecondaryKey are the keys of the
	// keys Secret holding the instance's two access keys.
	SecretKeyPrimaryKey   = "primaryKey"
	SecretKeySecondaryKey = "secondaryKey"
	// SecretKeySettings is the key of the settings Secret holding the hub
	// settings the PubSub service loads at start (--settings-file).
	SecretKeySettings = "settings.json"

	instanceKeysMountPath     = "/etc/chathub/keys"
	instanceSettingsMountPath = "/etc/chathub/settings"
	componentInstance         = "pubsub-instance"
)

// InstanceKeysSecretName is the name of the Secret holding the access keys
// of the WebPubSubService name.
func InstanceKeysSecretName(name string) string { return name + "-keys" }

// InstanceSettingsSecretName is the name of the Secret holding the hub
// settings of the WebPubSubService name.
func InstanceSettingsSecretName(name string) string { return name + "-settings" }

// InstanceEndpoint is the in-cluster URL of the WebPubSubService name in
// namespace; its Deployment and Service are named name.
func InstanceEndpoint(namespace, name string) *url.URL {
	return &url.URL{Scheme: "http", Host: fmt.Sprintf("%s.%s.svc:%d", name, namespace, EmbeddedPort)}
}

// InstanceResourceID is the resource the WebPubSubService name answers to
// on its ARM-shaped hub-settings API; the ID only shapes the URL.
func InstanceResourceID(namespace, name string) webpubsub.ResourceID {
	return webpubsub.ResourceID{SubscriptionID: "00000000-0000-0000-0000-000000000000", ResourceGroup: namespace, Name: name}
}

// instanceKeyField is the keys Secret key holding key.
func instanceKeyField(key chatv1.AccessKeyName) string {
	if key == chatv1.AccessKeySecondary {
		return SecretKeySecondaryKey
	}
	return SecretKeyPrimaryKey
}

// activeKey is the key the ChatHubs of svc use: status.activeKey, Primary
// by default.
func activeKey(svc *chatv1.WebPubSubService) chatv1.AccessKeyName {
	if svc.Status.ActiveKey == chatv1.AccessKeySecondary {
		return chatv1.AccessKeySecondary
	}
	return chatv1.AccessKeyPrimary
}

// otherKey is the key that is not key.
func otherKey(key chatv1.AccessKeyName) chatv1.AccessKeyName {
	if key == chatv1.AccessKeySecondary {
		return chatv1.AccessKeyPrimary
	}
	return chatv1.AccessKeySecondary
}

func instanceLabels(svc *chatv1.WebPubSubService) map[string]string {
	l := instanceSelector(svc)
	l["app.kubernetes.io/managed-by"] = managerName
	return l
}

func instanceSelector(svc *chatv1.WebPubSubService) map[string]string {
	return map[string]string{
		"app.kubernetes.io/name":      "chathub",
		"app.kubernetes.io/instance":  svc.Name,
		"app.kubernetes.io/component": componentInstance,
	}
}

// instanceHub is one hub of an instance: the ChatHub that owns it and the
// event handler it wants.
type instanceHub struct {
	name    string
	owner   *chatv1.ChatHub
	handler webpubsub.EventHandlerSettings
}

// instanceHubs picks, among the ChatHubs that use an instance, the owner of
// each hub (the oldest; hub names compare case-insensitively) and its
// desired handler, sorted by hub name. ChatHubs being deleted, and those
// whose user registers the handler (registration Manual), hold no settings.
func instanceHubs(hubs []chatv1.ChatHub) []instanceHub {
	owners := map[string]*chatv1.ChatHub{}
	for i := range hubs {
		h := &hubs[i]
		if !h.DeletionTimestamp.IsZero() {
			continue
		}
		key := strings.ToLower(EffectiveHub(h))
		if o, ok := owners[key]; !ok || older(h, o) {
			owners[key] = h
		}
	}
	out := make([]instanceHub, 0, len(owners))
	for _, h := range owners {
		if h.Spec.EventHandler.Registration == chatv1.RegistrationManual {
			continue
		}
		out = append(out, instanceHub{name: EffectiveHub(h), owner: h, handler: DesiredEventHandler(h)})
	}
	slices.SortFunc(out, func(a, b instanceHub) int { return strings.Compare(a.name, b.name) })
	return out
}

// buildInstanceSettings is the settings file of an instance's hubs:
// {"hubs":{"<hub>":{"eventHandlers":[…]}}}, as `chathub pubsub
// --settings-file` loads it.
func buildInstanceSettings(hubs []instanceHub) ([]byte, error) {
	f := struct {
		Hubs map[string]webpubsub.HubProperties `json:"hubs"`
	}{Hubs: make(map[string]webpubsub.HubProperties, len(hubs))}
	for _, h := range hubs {
		f.Hubs[h.name] = webpubsub.HubProperties{EventHandlers: []webpubsub.EventHandlerSettings{h.handler}}
	}
	return json.Marshal(f) // map keys sorted: the same hubs give the same bytes
}

// instanceArgs are the PubSub service's arguments: both keys and the hub
// settings from the mounted Secrets, which it reloads when they change.
func instanceArgs(svc *chatv1.WebPubSubService, access natsAccess) []string {
	return append([]string{
		"pubsub",
		"--listen", ":" + strconv.Itoa(EmbeddedPort),
		"--log-format", dataPlaneLogFormat,
		"--endpoint", InstanceEndpoint(svc.Namespace, svc.Name).String(),
		"--access-key-file", instanceKeysMountPath + "/" + SecretKeyPrimaryKey,
		"--access-key-file", instanceKeysMountPath + "/" + SecretKeySecondaryKey,
		"--settings-file", instanceSettingsMountPath + "/" + SecretKeySettings,
	}, natsArgs(svc, access)...)
}

// instancePreStopSeconds is how long a WebPubSubService pod keeps serving after it is
// deleted, before it is told to stop (see buildInstanceDeployment). The pod's grace period
// (30 s) covers it and the service's own shutdown (at most 10 s).
const instancePreStopSeconds = 5

// buildInstanceDeployment is the desired Deployment of a WebPubSubService
// (pubSubDeployment, as for an embedded source), with its keys and
// settings Secrets mounted. It rolls on neither Secret: the service
// reloads both files, so a rotation or a new hub never restarts it.
func buildInstanceDeployment(svc *chatv1.WebPubSubService, image string, access natsAccess) *appsv1.Deployment {
	if svc.Spec.Image != "" {
		image = svc.Spec.Image
	}
	secretVolume := func(name, secret string) corev1.Volume {
		return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
			SecretName: secret, DefaultMode: ptr.To[int32](0o440),
		}}}
	}
	natsMounts, natsVols := natsVolumes(svc, access)
	c := pubSubContainer(image, dataPlaneCommand(svc.Spec.Image), instanceArgs(svc, access), svc.Spec.Resources)
	c.Env = natsEnv(svc, access)
	// A deleted pod leaves the Service's endpoints while it stops, but until every node has
	// the change new connections (a chat server's next REST call) may still reach it. The
	// sleep before the stop signal keeps the replica serving, still in the cluster, for that
	// time; then it closes its clients, finishes the REST calls in flight and leaves.
	c.Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: instancePreStopSeconds}}}
	pod := basePodSpec(c,
		append([]corev1.VolumeMount{
			{Name: "keys", MountPath: instanceKeysMountPath, ReadOnly: true},
			{Name: "settings", MountPath: instanceSettingsMountPath, ReadOnly: true},
		}, natsMounts...),
		append([]corev1.Volume{
			secretVolume("keys", InstanceKeysSecretName(svc.Name)),
			secretVolume("settings", InstanceSettingsSecretName(svc.Name)),
		}, natsVols...))
	d := pubSubDeployment(
		metav1.ObjectMeta{Name: svc.Name, Namespace: svc.Namespace, Labels: instanceLabels(svc)},
		instanceSelector(svc), map[string]string{MetricsPortAnnotation: "http"}, pod, &svc.Spec.PodSchedulingSpec)
	if n := instanceReplicas(svc); n > 1 {
		// Replicas share their hubs through NATS: roll them one at a time,
		// a new pod ready before an old one stops, so that only the
		// clients of one pod reconnect at once.
		d.Spec.Replicas = ptr.To(n)
		d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType,
			RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: ptr.To(intstr.FromInt32(1)), MaxUnavailable: ptr.To(intstr.FromInt32(0))}}
	}
	return d
}

// buildInstancePDB is the PodDisruptionBudget of a WebPubSubService with
// more than one replica (a drain evicts one pod at a time); nil with one,
// where a budget would block every drain.
func buildInstancePDB(svc *chatv1.WebPubSubService) *policyv1.PodDisruptionBudget {
	if instanceReplicas(svc) < 2 {
		return nil
	}
	return &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: svc.Name, Namespace: svc.Namespace, Labels: instanceLabels(svc)},
		Spec: policyv1.PodDisruptionBudgetSpec{
			MaxUnavailable:             ptr.To(intstr.FromInt32(1)),
			Selector:                   &metav1.LabelSelector{MatchLabels: instanceSelector(svc)},
			UnhealthyPodEvictionPolicy: ptr.To(policyv1.AlwaysAllow),
		},
	}
}

// buildInstanceService is the desired Service of a WebPubSubService.
func buildInstanceService(svc *chatv1.WebPubSubService) *corev1.Service {
	s := buildService(&chatv1.ChatHub{ObjectMeta: metav1.ObjectMeta{Name: svc.Name, Namespace: svc.Namespace}}, svc.Name, componentInstance, EmbeddedPort)
	s.Labels, s.Spec.Selector = instanceLabels(svc), instanceSelector(svc)
	return s
}
