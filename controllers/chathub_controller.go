// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

// Package controllers holds the ChatHub reconciler: it turns each ChatHub
// into a connection Secret, a chat server Deployment and Service, optionally
// the PubSub service and an Ingress, and a registered event handler.
package controllers

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	chatv1 "github.com/chathub/chathub/api/v1"
	"github.com/chathub/chathub/webpubsub"
)

// Finalizer keeps a ChatHub until its event handler is removed from the service.
const Finalizer = "chat.webpubsub.dev/event-handler"

// ChatHubReconciler reconciles ChatHub objects. External systems (the
// hub-settings API, the handshake, Entra tokens, the clock) are injected so
// tests can point them at real local servers.
type ChatHubReconciler struct {
	client.Client
	// APIReader reads around the cache where a stale read would do harm
	// (the embedded key); nil reads only through the cache.
	APIReader client.Reader
	// Scheme is used for controller references.
	Scheme *runtime.Scheme
	// Recorder records events on ChatHubs.
	Recorder events.EventRecorder
	// DefaultImage runs the chat server (and the PubSub service) when a
	// ChatHub names no image: the operator's own image.
	DefaultImage string
	// Registrar opens hub-settings clients; nil uses HubsRegistrar{}.
	Registrar Registrar
	// EntraTokens signs ARM requests for Azure sources; nil means no
	// credential, reported as condition reason CredentialUnavailable.
	EntraTokens webpubsub.TokenSource
	// CheckHandshake checks the chat server's abuse-protection handshake;
	// nil uses HTTPHandshake(nil).
	CheckHandshake HandshakeFunc
	// Now is the clock; nil uses time.Now.
	Now func() time.Time
	// RetryMin and RetryMax bound the backoff of failed registrations
	// (defaults 5s and 5m).
	RetryMin, RetryMax time.Duration
	// Resync re-checks a registered handler this often, e.g. after the local
	// service restarted and lost its settings (default 2m).
	Resync time.Duration
	// DeleteTimeout is how long deletion retries removing the handler before
	// it gives up, records what was left behind and lets go (default 2m).
	DeleteTimeout time.Duration
	// WatchNamespaces are the namespaces the manager's cache holds
	// (CacheOptions); none means all. The watch of referenced Secrets is
	// limited to them too.
	WatchNamespaces []string
	// MaxConcurrentReconciles is the number of parallel reconciles (default 4).
	MaxConcurrentReconciles int
	// ReconcileTimeout bounds the outside calls of one reconcile (ARM, hub
	// settings, handshake, Entra), each also bounded on its own (default
	// 30s). Long-running hub operations are not waited for: they are kept
	// in status.pendingOperation and polled on later reconciles.
	ReconcileTimeout time.Duration
	// KeysTTL is how long an ARM listKeys result is reused (default 10m).
	KeysTTL time.Duration

	keys keyCache
}

// +kubebuilder:rbac:groups=chat.webpubsub.dev,resources=chathubs,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=chat.webpubsub.dev,resources=chathubs/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=chat.webpubsub.dev,resources=chathubs/finalizers,verbs=update
// +kubebuilder:rbac:groups=chat.webpubsub.dev,resources=webpubsubservices,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;create;update;patch
// +kubebuilder:rbac:groups="",resources=services,verbs=get;list;watch;create;update;patch
// +kubebuilder:rbac:groups=apps,resources=deployments,verbs=get;list;watch;create;update;patch
// +kubebuilder:rbac:groups=networking.k8s.io,resources=ingresses,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=networking.k8s.io,resources=networkpolicies,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=policy,resources=poddisruptionbudgets,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile makes one ChatHub real: get → deletion → finalizer → connection
// → connection Secret → hub ownership → PubSub service → chat server →
// Ingress → registration → status.
func (r *ChatHubReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	hub := &chatv1.ChatHub{}
	if err := r.Get(ctx, req.NamespacedName, hub); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !hub.DeletionTimestamp.IsZero() {
		return r.finalize(ctx, hub)
	}
	if err := r.ensureFinalizer(ctx, hub); err != nil {
		return ctrl.Result{}, fmt.Errorf("adding the finalizer: %w", err)
	}
	// Outside calls share a deadline; writes to the API server do not, so
	// that a timeout still reaches status.
	octx, cancel := context.WithTimeout(ctx, cmp.Or(r.ReconcileTimeout, 30*time.Second))
	defer cancel()
	src := sourceFor(hub)
	obs := observation{generation: hub.Generation, hub: EffectiveHub(hub), source: src.Kind(), url: ChatURL(hub)}

	// Gather inputs: the connection (from a Secret, ARM listKeys, a key).
	conn, err := src.Resolve(octx, r)
	if !asProblem(err, &obs.secretProblem) {
		return ctrl.Result{}, err
	}

	hash, err := r.ensureConnectionSecret(ctx, hub, conn)
	if !asProblem(err, &obs.secretProblem) {
		return ctrl.Result{}, err
	}
	if conn != nil {
		obs.endpoint = conn.cs.Endpoint.String()
	}
	if hash != "" {
		obs.secretName = ConnectionSecretName(hub)
	}

	// Only the owner of the hub goes on (chathub_conflict.go).
	owner, err := r.hubOwner(ctx, hub, conn)
	if err != nil {
		return ctrl.Result{}, err
	}
	if owner != hub {
		if obs.conflict, obs.registration, err = r.standDownFrom(ctx, hub, owner, src, conn); err != nil {
			return ctrl.Result{}, err
		}
		r.recordEvents(hub, obs)
		return r.writeStatus(ctx, hub, obs)
	}

	if p := obs.secretProblem; p != nil && p.reason == chatv1.ReasonObjectNotOwned {
		conn = nil // someone else's Secret: register nothing with it
	}

	// Objects: a *problem (ObjectNotOwned, InvalidSpec) stops here and
	// reaches condition ServerAvailable.
	if hash != "" {
		if obs.sourceDeployments, err = src.EnsureObjects(ctx, r, hash); !asProblem(err, &obs.serverProblem) {
			return ctrl.Result{}, err
		}
		if obs.serverProblem == nil {
			if obs.server, err = r.ensureChatServer(ctx, hub, hash); !asProblem(err, &obs.serverProblem) {
				return ctrl.Result{}, err
			}
		}
	}
	if obs.serverProblem == nil {
		if err := r.ensureIngress(ctx, hub); !asProblem(err, &obs.serverProblem) {
			return ctrl.Result{}, err
		}
	}

	var hubs HubSettingsClient
	if conn != nil && src.Registers() && obs.serverProblem == nil {
		if hubs, err = src.HubSettings(r, conn); err != nil {
			return ctrl.Result{}, fmt.Errorf("opening the hub settings of %s: %w", src.Service(), err)
		}
	}
	if obs.serverProblem != nil {
		obs.registration = standingDown(hub, obs.serverProblem)
	} else {
		obs.registration = r.ensureRegistration(octx, hub, src, conn, hubs)
	}

	r.recordEvents(hub, obs)
	return r.writeStatus(ctx, hub, obs)
}

// asProblem stores err in *p when it is a *problem and reports whether the
// reconcile may go on (err is nil or a problem).
func asProblem(err error, p **problem) bool {
	if err == nil {
		return true
	}
	var pr *problem
	if errors.As(err, &pr) {
		*p = pr
		return true
	}
	return false
}

// writeStatus computes the status on a copy and writes it only when it
// changed, then says when to look again.
func (r *ChatHubReconciler) writeStatus(ctx context.Context, hub *chatv1.ChatHub, obs observation) (ctrl.Result, error) {
	st := computeStatus(hub.Status, obs, metav1.NewTime(r.now()))
	result := ctrl.Result{RequeueAfter: r.requeueAfter(hub, obs)}
	if equality.Semantic.DeepEqual(st, hub.Status) {
		return result, nil
	}
	// Optimistic lock: a status computed from a stale read (the cache lags
	// behind the last write) must not undo what that write recorded, e.g.
	// a pending operation.
	patch := client.MergeFromWithOptions(hub.DeepCopy(), client.MergeFromWithOptimisticLock{})
	hub.Status = st
	if err := r.Status().Patch(ctx, hub, patch); err != nil {
		return ctrl.Result{}, fmt.Errorf("writing status: %w", err)
	}
	return result, nil
}

// requeueAfter is the time-based wait of a reconcile: a backoff that grows
// with how long the registration (or an outside service the connection
// comes from, e.g. Azure listKeys) has been failing, or a periodic re-check
// of a registered handler.
func (r *ChatHubReconciler) requeueAfter(hub *chatv1.ChatHub, obs observation) time.Duration {
	failing := ""
	switch {
	case obs.secretProblem != nil && obs.secretProblem.wait > 0:
		return obs.secretProblem.wait
	case obs.registration.wait > 0:
		return obs.registration.wait
	case obs.secretProblem != nil && obs.secretProblem.retry:
		failing = chatv1.ConditionConnectionSecretReady
	case obs.registration.retry:
		failing = chatv1.ConditionEventHandlerRegistered
	case obs.registration.status == metav1.ConditionTrue:
		return r.Resync
	default:
		return 0
	}
	return r.backoff(meta.FindStatusCondition(hub.Status.Conditions, failing), r.RetryMax)
}

// backoff is the time since cond became False, between RetryMin and limit,
// which roughly doubles the wait at every failed attempt.
func (r *ChatHubReconciler) backoff(cond *metav1.Condition, limit time.Duration) time.Duration {
	if cond == nil || cond.Status != metav1.ConditionFalse {
		return r.RetryMin
	}
	return min(max(r.now().Sub(cond.LastTransitionTime.Time), r.RetryMin), limit)
}

// recordEvents records what a user must act on (Warning) and registrations
// (Normal), once per transition.
func (r *ChatHubReconciler) recordEvents(hub *chatv1.ChatHub, obs observation) {
	old := func(typ string) string {
		if c := meta.FindStatusCondition(hub.Status.Conditions, typ); c != nil {
			return string(c.Status) + "/" + c.Reason
		}
		return ""
	}
	if p := obs.secretProblem; p != nil && old(chatv1.ConditionConnectionSecretReady) != "False/"+p.reason {
		r.Recorder.Eventf(hub, nil, corev1.EventTypeWarning, p.reason, "ResolveConnection", "%s", p.message)
	}
	reg := obs.registration
	switch {
	case reg.updated:
		r.Recorder.Eventf(hub, nil, corev1.EventTypeNormal, chatv1.ReasonRegistered, "Register", "%s", reg.message)
	case reg.status == metav1.ConditionFalse && reg.reason != chatv1.ReasonWaitingForSecret && reg.reason != chatv1.ReasonRegistrationInProgress &&
		old(chatv1.ConditionEventHandlerRegistered) != "False/"+reg.reason:
		r.Recorder.Eventf(hub, nil, corev1.EventTypeWarning, reg.reason, "Register", "%s", reg.message)
	}
}

func (r *ChatHubReconciler) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// SetupWithManager registers the controller: it owns what it creates and
// watches the metadata of the objects sources reference (the Secrets
// ChatHubs take their connection strings from). The manager's cache should
// be configured with CacheOptions.
func (r *ChatHubReconciler) SetupWithManager(mgr ctrl.Manager) error {
	r.setDefaults()
	err := mgr.GetFieldIndexer().IndexField(context.Background(), &chatv1.ChatHub{}, sourceRefIndex, func(o client.Object) []string {
		var keys []string
		for _, ref := range sourceFor(o.(*chatv1.ChatHub)).References() {
			keys = append(keys, ref.indexValue())
		}
		return keys
	})
	if err != nil {
		return fmt.Errorf("indexing ChatHubs by the objects their source references: %w", err)
	}
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &chatv1.ChatHub{}, hubKeyIndex, indexHubKeys); err != nil {
		return fmt.Errorf("indexing ChatHubs by their hub: %w", err)
	}
	peers, peersChanged := r.hubPeersHandler()
	b := ctrl.NewControllerManagedBy(mgr).
		For(&chatv1.ChatHub{}, builder.WithPredicates(specOrMetadataChanged())).
		Watches(&chatv1.ChatHub{}, peers, builder.WithPredicates(peersChanged)).
		Owns(&corev1.Secret{}).
		Owns(&appsv1.Deployment{}).
		Owns(&corev1.Service{}).
		Owns(&networkingv1.Ingress{}).
		Owns(&networkingv1.NetworkPolicy{}).
		Owns(&policyv1.PodDisruptionBudget{})
	// Referenced objects the manager does not cache (a user's Secret): their
	// metadata is watched in a cache of its own (chathub_cache.go).
	refs, err := r.referencedCache(mgr)
	if err != nil {
		return err
	}
	for _, src := range refs {
		b = b.WatchesRawSource(src)
	}
	for _, k := range referencedKinds {
		if k.metadataOnly {
			continue
		}
		var only []predicate.Predicate
		if k.only != nil {
			only = append(only, k.only)
		}
		b = b.Watches(k.obj, handler.EnqueueRequestsFromMapFunc(r.hubsReferencing(k.kind)), builder.WithPredicates(only...))
	}
	return b.WithOptions(controller.Options{MaxConcurrentReconciles: r.MaxConcurrentReconciles}).
		Named("chathub").
		Complete(r)
}

func (r *ChatHubReconciler) setDefaults() {
	if r.Registrar == nil {
		r.Registrar = HubsRegistrar{}
	}
	if r.CheckHandshake == nil {
		r.CheckHandshake = HTTPHandshake(nil)
	}
	if r.RetryMin <= 0 {
		r.RetryMin = 5 * time.Second
	}
	if r.RetryMax <= 0 {
		r.RetryMax = 5 * time.Minute
	}
	if r.Resync <= 0 {
		r.Resync = 2 * time.Minute
	}
	if r.DeleteTimeout <= 0 {
		r.DeleteTimeout = 2 * time.Minute
	}
	if r.MaxConcurrentReconciles <= 0 {
		r.MaxConcurrentReconciles = 4
	}
	if r.ReconcileTimeout <= 0 {
		r.ReconcileTimeout = 30 * time.Second
	}
	if r.KeysTTL <= 0 {
		r.KeysTTL = 10 * time.Minute
	}
}

// hubsReferencing maps an object of kind to the ChatHubs whose source
// references it.
func (r *ChatHubReconciler) hubsReferencing(kind string) handler.MapFunc {
	return func(ctx context.Context, o client.Object) []ctrl.Request {
		var hubs chatv1.ChatHubList
		key := sourceRef{kind: kind, name: o.GetName()}.indexValue()
		if err := r.List(ctx, &hubs, client.InNamespace(o.GetNamespace()), client.MatchingFields{sourceRefIndex: key}); err != nil {
			logf.FromContext(ctx).Error(err, "Listing ChatHubs for a referenced object", "kind", kind, "object", client.ObjectKeyFromObject(o))
			return nil
		}
		reqs := make([]ctrl.Request, 0, len(hubs.Items))
		for _, h := range hubs.Items {
			reqs = append(reqs, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(&h)})
		}
		return reqs
	}
}

// backoffSince is the time since t, between RetryMin and a quarter of
// DeleteTimeout: the retry interval while deleting.
func (r *ChatHubReconciler) backoffSince(t time.Time) time.Duration {
	return min(max(r.now().Sub(t), r.RetryMin), max(r.DeleteTimeout/4, r.RetryMin))
}
