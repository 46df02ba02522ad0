// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package controllers

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/source"

	chatv1 "github.com/chathub/chathub/api/v1"
	"github.com/chathub/chathub/webpubsub"
)

// errKeysNotCached: the keys Secret exists but the cache has not seen it
// yet; the reconcile is retried rather than generating new keys.
var errKeysNotCached = errors.New("the keys Secret is not in the cache yet")

// serviceRefIndex indexes ChatHubs by the WebPubSubService they use.
const serviceRefIndex = ".spec.webPubSub.serviceRef.name"

// WebPubSubServiceReconciler reconciles WebPubSubService objects: a shared
// PubSub service instance (keys Secret, settings Secret, Deployment,
// Service) serving the hubs of the ChatHubs that reference it. The ChatHubs
// register their own hubs live (source_serviceref.go); this controller
// keeps every owned hub's handler in the settings Secret the service loads
// at start, and runs key rotations.
type WebPubSubServiceReconciler struct {
	client.Client
	// APIReader reads the keys Secret around the cache, so that a stale
	// cache never makes the operator generate new keys.
	APIReader client.Reader
	// Scheme is used for controller references.
	Scheme *runtime.Scheme
	// Recorder records events on WebPubSubServices.
	Recorder events.EventRecorder
	// DefaultImage runs the PubSub service when spec.image is empty.
	DefaultImage string
	// WatchNamespaces limits the watch of the Secrets an external NATS
	// names to these namespaces; none means all.
	WatchNamespaces []string
	// NATSImage runs a managed NATS when spec.nats.managed.image is empty;
	// "" uses DefaultNATSImage.
	NATSImage string
	// Now is the clock; nil uses time.Now.
	Now func() time.Time
	// RetryInterval is how soon a reconcile that met a problem that may go
	// away by itself (a user's Secret not there yet) looks again (default
	// 30s).
	RetryInterval time.Duration
	// RotationCheck is how often a key rotation waiting for chat servers to
	// move to the other key looks again (default 5s).
	RotationCheck time.Duration
}

// +kubebuilder:rbac:groups=chat.webpubsub.dev,resources=webpubsubservices,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=chat.webpubsub.dev,resources=webpubsubservices/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=chat.webpubsub.dev,resources=webpubsubservices/finalizers,verbs=update
// +kubebuilder:rbac:groups=apps,resources=statefulsets,verbs=get;list;watch;create;update;patch;delete

// instanceObservation is what one reconcile of an instance found.
type instanceObservation struct {
	hubs      int32
	activeKey chatv1.AccessKeyName
	rotated   *chatv1.KeyRotation
	problem   *problem
	d         *appsv1.Deployment
	// nats is the managed NATS's StatefulSet (nil without one).
	nats *appsv1.StatefulSet
	// rotating is set while a rotation waits for chat servers.
	rotating bool
}

// Reconcile runs one WebPubSubService: get → ChatHubs → keys Secret → key
// rotation → settings Secret → NATS (managed or external) → Deployment,
// its PodDisruptionBudget and Service → status.
func (r *WebPubSubServiceReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	svc := &chatv1.WebPubSubService{}
	if err := r.Get(ctx, req.NamespacedName, svc); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	var refs chatv1.ChatHubList
	if err := r.List(ctx, &refs, client.InNamespace(svc.Namespace), client.MatchingFields{serviceRefIndex: svc.Name}); err != nil {
		return ctrl.Result{}, fmt.Errorf("listing the ChatHubs of the instance: %w", err)
	}
	hubs := instanceHubs(refs.Items)
	obs := instanceObservation{hubs: int32(len(hubs)), activeKey: activeKey(svc)} //nolint:gosec // G115: a count of ChatHubs

	var access natsAccess // what an external NATS's Secrets hold
	keys, err := r.ensureKeys(ctx, svc, "")
	if !asProblem(err, &obs.problem) {
		return ctrl.Result{}, err
	}
	if obs.problem == nil {
		if err := r.rotateKeys(ctx, svc, refs.Items, keys, &obs); !asProblem(err, &obs.problem) {
			return ctrl.Result{}, err
		}
	}
	if obs.problem == nil {
		if err := r.ensureSettings(ctx, svc, hubs); !asProblem(err, &obs.problem) {
			return ctrl.Result{}, err
		}
	}
	if obs.problem == nil {
		if obs.nats, access, err = r.ensureNATS(ctx, svc); !asProblem(err, &obs.problem) {
			return ctrl.Result{}, err
		}
	}
	if obs.problem == nil {
		if obs.d, err = applyOwnedDeployment(ctx, r.Client, r.Scheme, svc, buildInstanceDeployment(svc, r.DefaultImage, access)); !asProblem(err, &obs.problem) {
			return ctrl.Result{}, fmt.Errorf("applying the Deployment: %w", err)
		}
	}
	if obs.problem == nil {
		if err := applyOwnedPDB(ctx, r.Client, r.Scheme, svc, svc.Name, buildInstancePDB(svc)); !asProblem(err, &obs.problem) {
			return ctrl.Result{}, err
		}
	}
	if obs.problem == nil {
		if err := applyOwnedService(ctx, r.Client, r.Scheme, svc, buildInstanceService(svc)); !asProblem(err, &obs.problem) {
			return ctrl.Result{}, fmt.Errorf("applying the Service: %w", err)
		}
	}
	return r.writeStatus(ctx, svc, obs)
}

// ensureKeys creates the keys Secret with two generated keys, or fills in
// one that is missing; a key that is there is never changed, except regen,
// the key field a rotation regenerates. It returns the keys.
func (r *WebPubSubServiceReconciler) ensureKeys(ctx context.Context, svc *chatv1.WebPubSubService, regen string) (map[string]string, error) {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: InstanceKeysSecretName(svc.Name), Namespace: svc.Namespace}}
	key := client.ObjectKeyFromObject(s)
	if err := r.Get(ctx, key, s); apierrors.IsNotFound(err) && r.APIReader != nil {
		// The cache may not have seen the Secret written a moment ago: new
		// keys would lock out every chat server. Its watch event will come.
		if err := r.APIReader.Get(ctx, key, &corev1.Secret{}); err == nil {
			return nil, errKeysNotCached
		}
	}
	keys := map[string]string{}
	_, err := controllerutil.CreateOrPatch(ctx, r.Client, s, func() error {
		if err := mustControl(svc, s, "Secret"); err != nil {
			return err
		}
		s.Labels = mergeLabels(s.Labels, instanceLabels(svc))
		s.Type = corev1.SecretTypeOpaque
		if s.Data == nil {
			s.Data = map[string][]byte{}
		}
		for _, f := range []string{SecretKeyPrimaryKey, SecretKeySecondaryKey} {
			if len(s.Data[f]) < 32 || f == regen {
				k, err := webpubsub.NewAccessKey()
				if err != nil {
					return err
				}
				s.Data[f] = []byte(k)
			}
			keys[f] = string(s.Data[f])
		}
		return ctrl.SetControllerReference(svc, s, r.Scheme)
	})
	if err := applyErrorOf("WebPubSubService", "Secret", s.Name, err); err != nil {
		return nil, fmt.Errorf("writing the keys Secret: %w", err)
	}
	return keys, nil
}

// ensureSettings writes the settings Secret: the desired handler of every
// hub of the instance, which the service loads at start.
func (r *WebPubSubServiceReconciler) ensureSettings(ctx context.Context, svc *chatv1.WebPubSubService, hubs []instanceHub) error {
	data, err := buildInstanceSettings(hubs)
	if err != nil {
		return fmt.Errorf("encoding the hub settings: %w", err)
	}
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: InstanceSettingsSecretName(svc.Name), Namespace: svc.Namespace}}
	_, err = controllerutil.CreateOrPatch(ctx, r.Client, s, func() error {
		if err := mustControl(svc, s, "Secret"); err != nil {
			return err
		}
		s.Labels = mergeLabels(s.Labels, instanceLabels(svc))
		s.Type = corev1.SecretTypeOpaque
		s.Data = map[string][]byte{SecretKeySettings: data}
		return ctrl.SetControllerReference(svc, s, r.Scheme)
	})
	if err := applyErrorOf("WebPubSubService", "Secret", s.Name, err); err != nil {
		return fmt.Errorf("writing the settings Secret: %w", err)
	}
	return nil
}

// writeStatus computes the status on a copy and writes it when it changed;
// a finished rotation then drops the rotate-key annotation.
func (r *WebPubSubServiceReconciler) writeStatus(ctx context.Context, svc *chatv1.WebPubSubService, obs instanceObservation) (ctrl.Result, error) {
	st := computeInstanceStatus(svc, obs)
	if !equality.Semantic.DeepEqual(st, svc.Status) {
		patch := client.MergeFrom(svc.DeepCopy())
		svc.Status = st
		if err := r.Status().Patch(ctx, svc, patch); err != nil {
			return ctrl.Result{}, fmt.Errorf("writing status: %w", err)
		}
	}
	if obs.rotated != nil {
		patch := client.MergeFrom(svc.DeepCopy())
		delete(svc.Annotations, chatv1.RotateKeyAnnotation)
		if err := r.Patch(ctx, svc, patch); err != nil {
			return ctrl.Result{}, fmt.Errorf("removing the %s annotation: %w", chatv1.RotateKeyAnnotation, err)
		}
	}
	switch {
	case obs.rotating:
		return ctrl.Result{RequeueAfter: r.rotationCheck()}, nil
	case obs.problem != nil && obs.problem.retry:
		return ctrl.Result{RequeueAfter: cmp.Or(r.RetryInterval, 30*time.Second)}, nil
	}
	return ctrl.Result{}, nil
}

// computeInstanceStatus is the status of svc given what a reconcile found.
func computeInstanceStatus(svc *chatv1.WebPubSubService, obs instanceObservation) chatv1.WebPubSubServiceStatus {
	st := *svc.Status.DeepCopy()
	st.ObservedGeneration = svc.Generation
	st.Endpoint = InstanceEndpoint(svc.Namespace, svc.Name).String()
	st.Hubs = obs.hubs
	st.KeysSecretName = InstanceKeysSecretName(svc.Name)
	st.SettingsSecretName = InstanceSettingsSecretName(svc.Name)
	st.ActiveKey = obs.activeKey
	if obs.rotated != nil {
		st.LastKeyRotation = obs.rotated
	}
	set := func(typ string, status metav1.ConditionStatus, reason, msg string) {
		meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: typ, Status: status, Reason: reason, Message: msg, ObservedGeneration: svc.Generation})
	}
	st.Replicas = 0
	if obs.d != nil {
		st.Replicas = obs.d.Status.AvailableReplicas
	}
	st.NATS = natsStatus(svc)
	deployed := obs.d != nil && obs.d.Status.ObservedGeneration >= obs.d.Generation && obs.d.Status.AvailableReplicas > 0
	natsOK, natsWait := natsAvailable(svc, obs.nats)
	reason, msg := chatv1.ReasonDeploymentProgressing, "Waiting for the PubSub service's pod to be available"
	switch {
	case deployed && natsOK:
		reason, msg = chatv1.ReasonDeploymentAvailable, fmt.Sprintf("The PubSub service has %d of %d replicas available", obs.d.Status.AvailableReplicas, instanceReplicas(svc))
		set(chatv1.ConditionAvailable, metav1.ConditionTrue, reason, msg)
	case obs.problem == nil:
		if !natsOK {
			reason, msg = chatv1.ReasonNATSUnavailable, natsWait
		}
		set(chatv1.ConditionAvailable, metav1.ConditionFalse, reason, msg)
	}
	switch {
	case obs.problem != nil:
		set(chatv1.ConditionReady, metav1.ConditionFalse, obs.problem.reason, obs.problem.message)
	case deployed && natsOK:
		set(chatv1.ConditionReady, metav1.ConditionTrue, chatv1.ReasonReady, fmt.Sprintf("Serving %d hubs", obs.hubs))
	default:
		set(chatv1.ConditionReady, metav1.ConditionFalse, reason, msg)
	}
	return st
}

// natsStatus says which NATS svc's replicas use, without credentials.
func natsStatus(svc *chatv1.WebPubSubService) string {
	switch n := svc.Spec.NATS; {
	case n == nil:
		return ""
	case n.Managed != nil:
		return managedNATSURL(svc)
	case n.External != nil:
		return n.External.URL
	}
	return ""
}

func (r *WebPubSubServiceReconciler) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *WebPubSubServiceReconciler) rotationCheck() time.Duration {
	if r.RotationCheck > 0 {
		return r.RotationCheck
	}
	return 5 * time.Second
}

// SetupWithManager registers the controller: it owns the instance's
// objects and watches the ChatHubs that use an instance.
func (r *WebPubSubServiceReconciler) SetupWithManager(mgr ctrl.Manager) error {
	err := mgr.GetFieldIndexer().IndexField(context.Background(), &chatv1.ChatHub{}, serviceRefIndex, func(o client.Object) []string {
		if ref := o.(*chatv1.ChatHub).Spec.WebPubSub.ServiceRef; ref != nil {
			return []string{ref.Name}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("indexing ChatHubs by their WebPubSubService: %w", err)
	}
	toInstance := handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []ctrl.Request {
		if ref := o.(*chatv1.ChatHub).Spec.WebPubSub.ServiceRef; ref != nil {
			return []ctrl.Request{{NamespacedName: types.NamespacedName{Namespace: o.GetNamespace(), Name: ref.Name}}}
		}
		return nil
	})
	secrets, err := r.externalSecretsSource(mgr)
	if err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		WatchesRawSource(secrets).
		For(&chatv1.WebPubSubService{}, builder.WithPredicates(specOrMetadataChanged())).
		Owns(&corev1.Secret{}).
		Owns(&appsv1.Deployment{}).
		Owns(&appsv1.StatefulSet{}).
		Owns(&corev1.Service{}).
		Owns(&policyv1.PodDisruptionBudget{}).
		Watches(&chatv1.ChatHub{}, toInstance, builder.WithPredicates(predicate.Funcs{
			// What the settings hold: the hub, its handler and who owns it.
			UpdateFunc: func(e event.UpdateEvent) bool {
				return e.ObjectOld.GetGeneration() != e.ObjectNew.GetGeneration() ||
					!e.ObjectOld.GetDeletionTimestamp().Equal(e.ObjectNew.GetDeletionTimestamp())
			},
		})).
		Named("webpubsubservice").
		Complete(r)
}

// externalSecretsSource watches the metadata of Secrets in a cache of its
// own (the manager's holds only the operator's Secrets) and reconciles the
// instances whose external NATS names a Secret that changed, so that a
// fixed or rotated credentials or TLS Secret is picked up at once.
func (r *WebPubSubServiceReconciler) externalSecretsSource(mgr ctrl.Manager) (source.Source, error) {
	c, err := cache.New(mgr.GetConfig(), cache.Options{
		Scheme: mgr.GetScheme(), Mapper: mgr.GetRESTMapper(), HTTPClient: mgr.GetHTTPClient(),
		DefaultNamespaces: namespaceConfigs(r.WatchNamespaces), DefaultTransform: identityOnly,
	})
	if err != nil {
		return nil, fmt.Errorf("creating the cache of Secrets an external NATS names: %w", err)
	}
	if err := mgr.Add(c); err != nil {
		return nil, fmt.Errorf("adding the cache of Secrets an external NATS names: %w", err)
	}
	secret := &metav1.PartialObjectMetadata{}
	secret.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
	return source.Kind(c, client.Object(secret), handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []ctrl.Request {
		var list chatv1.WebPubSubServiceList
		if err := r.List(ctx, &list, client.InNamespace(o.GetNamespace())); err != nil {
			return nil
		}
		var reqs []ctrl.Request
		for _, svc := range list.Items {
			if n := svc.Spec.NATS; n != nil && n.External != nil && (refNames(n.External.CredentialsSecretRef, o.GetName()) || refNames(n.External.TLSSecretRef, o.GetName())) {
				reqs = append(reqs, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(&svc)})
			}
		}
		return reqs
	})), nil
}

// refNames says whether ref names the object name.
func refNames(ref *corev1.LocalObjectReference, name string) bool {
	return ref != nil && ref.Name == name
}
