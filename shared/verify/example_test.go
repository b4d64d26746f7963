package verify_test

import (
	"encoding/base64"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"time"

	"github.com/jobhooks/jobhooks/shared/signing"
	"github.com/jobhooks/jobhooks/shared/verify"
)

// A receiver of a static webhook verifies every request with the webhook's secret before it
// trusts the body, and answers with the status StatusCode picks when verification fails.
func Example() {
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" // shown once by the API
	v, err := verify.New(verify.Options{Secrets: []string{secret}})
	if err != nil {
		log.Fatal(err)
	}
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := v.Request(r)
		if err != nil {
			http.Error(w, err.Error(), verify.StatusCode(err))
			return
		}
		// Deduplicate on webhook-id: it is the same for every retry of one event.
		fmt.Printf("verified %s: %s\n", r.Header.Get("webhook-id"), body)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer receiver.Close()

	// What Jobhooks sends, signed here by hand with the same secret.
	body := `{"type":"batch.succeeded","version":"v1","timestamp":"2026-11-28T10:00:00Z","data":{"id":"batches/123"}}`
	// post sends sent, with the signature of body.
	post := func(sent string) int {
		key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
		now := time.Now().Unix()
		req, _ := http.NewRequest(http.MethodPost, receiver.URL, strings.NewReader(sent))
		req.Header.Set("webhook-id", "msg_3vh49q23027z6p1gth2rrw86c5")
		req.Header.Set("webhook-timestamp", strconv.FormatInt(now, 10))
		req.Header.Set("webhook-signature", signing.NewHMAC(key).Sign("msg_3vh49q23027z6p1gth2rrw86c5", now, []byte(body)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	fmt.Println("genuine:", post(body))
	fmt.Println("tampered:", post(strings.Replace(body, "succeeded", "failed", 1)))
	// Output:
	// verified msg_3vh49q23027z6p1gth2rrw86c5: {"type":"batch.succeeded","version":"v1","timestamp":"2026-11-28T10:00:00Z","data":{"id":"batches/123"}}
	// genuine: 204
	// tampered: 401
}

// A receiver of dynamic (per-request) webhooks needs only the deployment's JWKS URL: it verifies
// v1a signatures and, in jwt mode, tokens, and follows key rotations by itself.
func ExampleNew_jwks() {
	v, err := verify.New(verify.Options{
		JWKSURL: "https://jwks.example.com/.well-known/jwks.json",
		// The URL the job asked to be called at: a delivery names it (v1a: the body's
		// target_uri, jwt: the token's aud), so one sent to another receiver fails here. Left
		// empty, Request takes it from the request's Host and path.
		Audience: "https://receiver.example.com/jobs/done",
	})
	if err != nil {
		log.Fatal(err)
	}
	http.HandleFunc("/jobs/done", func(w http.ResponseWriter, r *http.Request) {
		body, err := v.Request(r)
		if err != nil {
			http.Error(w, err.Error(), verify.StatusCode(err))
			return
		}
		_ = body // the verified event, with the job's user_metadata
		w.WriteHeader(http.StatusNoContent)
	})
}
