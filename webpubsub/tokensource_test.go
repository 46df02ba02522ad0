// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package webpubsub

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

func TestAccessKeyTokenSource(t *testing.T) {
	t.Parallel()
	ts := AccessKeyTokenSource(testKey)
	tests := map[string]struct {
		url     string
		wantAud string
	}{
		"the query is dropped from aud":   {url: "http://127.0.0.1:8080/subscriptions/s/hubs/chat?api-version=2024-03-01", wantAud: "http://127.0.0.1:8080/subscriptions/s/hubs/chat"},
		"a fragment is dropped from aud":  {url: "https://x/a#frag", wantAud: "https://x/a"},
		"an escaped path is kept escaped": {url: "https://x/a%2Fb?x=1", wantAud: "https://x/a%2Fb"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			u := mustURL(t, tc.url)
			tok, err := ts.Token(context.Background(), u)
			if err != nil {
				t.Fatal(err)
			}
			c, err := ParseToken(tok, []string{testKey}, time.Now(), 0)
			if err != nil {
				t.Fatal(err)
			}
			if c.Audience != tc.wantAud {
				t.Errorf("aud = %q, want %q", c.Audience, tc.wantAud)
			}
			if d := time.Until(c.ExpiresAt); d < 59*time.Minute || d > time.Hour {
				t.Errorf("exp is %s away, want about an hour", d)
			}
			if u.String() != tc.url {
				t.Errorf("Token changed the request URL to %q", u)
			}
		})
	}
	if _, err := ts.Token(context.Background(), nil); err == nil {
		t.Error("a nil URL gave no error")
	}
	if _, err := AccessKeyTokenSource("").Token(context.Background(), mustURL(t, "https://x")); err == nil {
		t.Error("an empty key gave no error")
	}
}

// entraServer is a local Microsoft Entra ID stand-in: OpenID configuration and a token
// endpoint that issues a fixed access token for client credentials.
type entraServer struct {
	*httptest.Server
	mu     sync.Mutex
	scopes []string
	fail   bool
}

func newEntraServer(t *testing.T) *entraServer {
	t.Helper()
	e := &entraServer{}
	e.Server = httptest.NewTLSServer(http.HandlerFunc(e.serve))
	t.Cleanup(e.Close)
	return e
}

func (e *entraServer) serve(w http.ResponseWriter, r *http.Request) {
	base := e.URL
	switch {
	case strings.HasSuffix(r.URL.Path, "/.well-known/openid-configuration"):
		tenant := strings.Split(strings.Trim(r.URL.Path, "/"), "/")[0]
		writeJSON(w, 200, `{"token_endpoint":"`+base+`/`+tenant+`/oauth2/v2.0/token",`+
			`"authorization_endpoint":"`+base+`/`+tenant+`/oauth2/v2.0/authorize",`+
			`"issuer":"`+base+`/`+tenant+`/v2.0"}`)
	case strings.HasSuffix(r.URL.Path, "/oauth2/v2.0/token"):
		if err := r.ParseForm(); err != nil {
			writeJSON(w, 400, `{"error":"invalid_request"}`)
			return
		}
		e.mu.Lock()
		e.scopes = append(e.scopes, r.PostForm.Get("scope"))
		fail := e.fail
		e.mu.Unlock()
		if fail || r.PostForm.Get("client_secret") != "local-secret" {
			writeJSON(w, 401, `{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided."}`)
			return
		}
		writeJSON(w, 200, `{"token_type":"Bearer","access_token":"entra-access-token","expires_in":3600,"ext_expires_in":3600}`)
	default:
		http.NotFound(w, r)
	}
}

func (e *entraServer) credential(t *testing.T, secret string) azcore.TokenCredential {
	t.Helper()
	cred, err := azidentity.NewClientSecretCredential("tenant-1", "client-1", secret, &azidentity.ClientSecretCredentialOptions{
		ClientOptions: azcore.ClientOptions{
			Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: e.URL + "/"},
			Transport: e.Client(),
		},
		DisableInstanceDiscovery: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	return cred
}

func TestEntraTokenSourceGetsAManagementToken(t *testing.T) {
	t.Parallel()
	e := newEntraServer(t)
	ts := EntraTokenSource(e.credential(t, "local-secret"))
	tok, err := ts.Token(context.Background(), mustURL(t, "https://management.azure.com/subscriptions/s"))
	if err != nil {
		t.Fatal(err)
	}
	if tok != "entra-access-token" {
		t.Errorf("token = %q", tok)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.scopes) != 1 || !strings.Contains(e.scopes[0], ManagementScope) {
		t.Errorf("scopes requested = %q, want %q", e.scopes, ManagementScope)
	}
}

func TestEntraTokenSourceSurfacesCredentialErrors(t *testing.T) {
	t.Parallel()
	e := newEntraServer(t)
	ts := EntraTokenSource(e.credential(t, "wrong-secret"))
	_, err := ts.Token(context.Background(), mustURL(t, "https://management.azure.com/"))
	if err == nil {
		t.Fatal("a rejected secret gave no error")
	}
	if strings.Contains(err.Error(), "wrong-secret") {
		t.Errorf("error %q contains the client secret", err)
	}
	if _, err := EntraTokenSource(nil).Token(context.Background(), nil); err == nil {
		t.Error("a nil credential gave no error")
	}
}

// staticCredential is an azcore.TokenCredential returning a fixed token, or an error.
type staticCredential struct {
	token string
	err   error
}

func (s staticCredential) GetToken(_ context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	if s.err != nil {
		return azcore.AccessToken{}, s.err
	}
	if len(opts.Scopes) != 1 || opts.Scopes[0] != ManagementScope {
		return azcore.AccessToken{}, errors.New("unexpected scopes")
	}
	return azcore.AccessToken{Token: s.token, ExpiresOn: time.Now().Add(time.Hour)}, nil
}

func TestHubsClientSendsTheEntraToken(t *testing.T) {
	t.Parallel()
	e := newEntraServer(t)
	var mu sync.Mutex
	var auth []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		auth = append(auth, r.Header.Get("Authorization"))
		mu.Unlock()
		b, _ := json.Marshal(Keys{PrimaryKey: "pk"})
		writeJSON(w, 200, string(b))
	}))
	t.Cleanup(srv.Close)
	rid, _ := ParseResourceID(testResourceID)
	c, err := NewHubsClient(srv.URL, rid, EntraTokenSource(e.credential(t, "local-secret")), nil)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := c.ListKeys(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, a := range auth {
		if a != "Bearer entra-access-token" {
			t.Errorf("Authorization = %q", a)
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.scopes) != 1 {
		t.Errorf("the token endpoint was called %d times for 2 requests, want 1 (cached)", len(e.scopes))
	}
}

func TestHubsClientReportsTokenSourceErrors(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("the client sent a request without a token")
	}))
	t.Cleanup(srv.Close)
	rid, _ := ParseResourceID(testResourceID)
	c, err := NewHubsClient(srv.URL, rid, EntraTokenSource(staticCredential{err: errors.New("no identity")}), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Get(context.Background(), "chat")
	checkErr(t, err, "no identity")
	ok, err := EntraTokenSource(staticCredential{token: "t"}).Token(context.Background(), &url.URL{})
	if err != nil || ok != "t" {
		t.Errorf("static credential: %q %v", ok, err)
	}
}

func TestDefaultEntraTokenSourcePrefersWorkloadIdentity(t *testing.T) {
	// Not parallel: it sets the workload identity environment. No token is requested, so
	// nothing leaves the machine.
	dir := t.TempDir()
	tokenFile := dir + "/token"
	if err := os.WriteFile(tokenFile, []byte("federated"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AZURE_FEDERATED_TOKEN_FILE", tokenFile)
	t.Setenv("AZURE_CLIENT_ID", "client-1")
	t.Setenv("AZURE_TENANT_ID", "tenant-1")
	ts, err := DefaultEntraTokenSource()
	if err != nil {
		t.Fatal(err)
	}
	es, ok := ts.(*entraTokenSource)
	if !ok {
		t.Fatalf("token source is %T, want an Entra token source", ts)
	}
	if _, ok := es.cred.(*azidentity.ChainedTokenCredential); !ok {
		t.Errorf("credential is %T, want workload identity chained before the default chain", es.cred)
	}

	t.Setenv("AZURE_FEDERATED_TOKEN_FILE", "")
	ts, err = DefaultEntraTokenSource()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := ts.(*entraTokenSource).cred.(*azidentity.DefaultAzureCredential); !ok {
		t.Errorf("without workload identity the credential is %T, want the default chain", ts.(*entraTokenSource).cred)
	}
}
