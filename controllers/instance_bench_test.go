// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package controllers

import (
	"fmt"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	chatv1 "github.com/chathub/chathub/api/v1"
)

// BenchmarkSharedInstance compares N ChatHubs on one WebPubSubService with
// N embedded ones, in one namespace each, once every hub has a registered
// handler: the objects the operator created, the pods their Deployments
// ask for, and the summed memory requests of those pods.
//
//	KUBEBUILDER_ASSETS=$PWD/bin/k8s go test ./controllers -run '^$' -bench BenchmarkSharedInstance -benchtime 1x
func BenchmarkSharedInstance(b *testing.B) {
	for _, n := range []int{100, 500} {
		for _, mode := range []string{"embedded", "serviceRef"} {
			b.Run(fmt.Sprintf("hubs=%d/%s", n, mode), func(b *testing.B) {
				for range b.N {
					runSharedInstance(b, n, mode)
				}
			})
		}
	}
}

func runSharedInstance(b *testing.B, n int, mode string) {
	ns := newNamespace(b)
	if mode == "serviceRef" {
		mustCreate(b, &chatv1.WebPubSubService{ObjectMeta: metav1.ObjectMeta{Name: "shared", Namespace: ns}})
	}
	start := time.Now()
	work := make(chan int)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for i := range work {
				name := fmt.Sprintf("hub-%d", i)
				if mode == "serviceRef" {
					mustCreate(b, sharedHub(name, ns, "", "shared"))
				} else {
					mustCreate(b, embeddedHub(name, ns))
				}
			}
		})
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()

	eventually(b, 15*time.Minute, "every ChatHub registered", func() error {
		var list chatv1.ChatHubList
		if err := suite.client.List(suite.ctx, &list, client.InNamespace(ns)); err != nil {
			return err
		}
		ready := 0
		for _, h := range list.Items {
			if c := meta.FindStatusCondition(h.Status.Conditions, chatv1.ConditionEventHandlerRegistered); c != nil && c.Status == "True" {
				ready++
			}
		}
		if ready < n {
			return fmt.Errorf("%d of %d registered", ready, n)
		}
		return nil
	})
	elapsed := time.Since(start)

	var secrets corev1.SecretList
	var services corev1.ServiceList
	var pdbs policyv1.PodDisruptionBudgetList
	var deployments appsv1.DeploymentList
	for _, l := range []client.ObjectList{&secrets, &services, &pdbs, &deployments} {
		if err := suite.client.List(suite.ctx, l, client.InNamespace(ns)); err != nil {
			b.Fatal(err)
		}
	}
	objects := len(secrets.Items) + len(services.Items) + len(pdbs.Items) + len(deployments.Items)
	pods, memory := 0, int64(0)
	for _, d := range deployments.Items {
		replicas := 1
		if d.Spec.Replicas != nil {
			replicas = int(*d.Spec.Replicas)
		}
		pods += replicas
		for _, c := range d.Spec.Template.Spec.Containers {
			memory += int64(replicas) * c.Resources.Requests.Memory().Value()
		}
	}
	b.ReportMetric(float64(objects), "objects")
	b.ReportMetric(float64(pods), "pods")
	b.ReportMetric(float64(memory)/(1<<20), "MiB-memory-requests")
	b.ReportMetric(elapsed.Seconds(), "s-all-registered")
}
