package localsecretmanager

import (
	"context"
	"hash/crc32"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
)

const (
	// maxPayload is the real API's limit on one version's data.
	maxPayload = 64 << 10
	// maxPageSize is the real API's cap on ListSecretVersions' page_size.
	maxPageSize = 25000
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func (s *service) CreateSecret(ctx context.Context, req *secretmanagerpb.CreateSecretRequest) (*secretmanagerpb.Secret, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	if !projectName.MatchString(req.GetParent()) {
		return nil, invalidf("Invalid resource field value in the request: parent %q is not projects/*.", req.GetParent())
	}
	if !secretID.MatchString(req.GetSecretId()) {
		return nil, invalidf("Invalid secret id %q: it must match [a-zA-Z0-9_-]{1,255}.", req.GetSecretId())
	}
	// The real API rejects a secret without a replication policy; so does the stand-in, so that
	// code tested here does not fail in production.
	if req.GetSecret().GetReplication().GetReplication() == nil {
		return nil, invalidf("Secret.replication is required.")
	}
	replication, err := protojson.Marshal(req.GetSecret().GetReplication())
	if err != nil {
		return nil, invalidf("Invalid replication: %v", err)
	}
	name := req.GetParent() + "/secrets/" + req.GetSecretId()

	s.mu.Lock()
	defer s.mu.Unlock()
	if _, exists := s.state.Secrets[name]; exists {
		return nil, status.Errorf(codes.AlreadyExists, "Secret [%s] already exists.", name)
	}
	rec := &secretRecord{
		CreateTime:  now(),
		Labels:      maps.Clone(req.GetSecret().GetLabels()),
		Replication: replication,
		Etag:        s.state.nextEtag(),
	}
	s.state.Secrets[name] = rec
	if err := s.commit(); err != nil {
		return nil, err
	}
	return rec.proto(name)
}

func (s *service) GetSecret(ctx context.Context, req *secretmanagerpb.GetSecretRequest) (*secretmanagerpb.Secret, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, err := s.state.lookupSecret(req.GetName())
	if err != nil {
		return nil, err
	}
	return rec.proto(req.GetName())
}

func (s *service) AddSecretVersion(ctx context.Context, req *secretmanagerpb.AddSecretVersionRequest) (*secretmanagerpb.SecretVersion, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	payload := req.GetPayload()
	if payload == nil {
		return nil, invalidf("SecretPayload is required.")
	}
	if len(payload.GetData()) > maxPayload {
		return nil, invalidf("SecretPayload.data is larger than %d bytes.", maxPayload)
	}
	sum := crc32.Checksum(payload.GetData(), castagnoli)
	if payload.DataCrc32C != nil && payload.GetDataCrc32C() != int64(sum) {
		return nil, invalidf("Checksum mismatch: the data_crc32c of the payload does not match its data.")
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	rec, err := s.state.lookupSecret(req.GetParent())
	if err != nil {
		return nil, err
	}
	v := &versionRecord{
		State:          secretmanagerpb.SecretVersion_ENABLED.String(),
		CreateTime:     now(),
		Data:           slices.Clone(payload.GetData()),
		CRC32C:         sum,
		ClientChecksum: payload.DataCrc32C != nil,
		Etag:           s.state.nextEtag(),
	}
	rec.Versions = append(rec.Versions, v)
	if err := s.commit(); err != nil {
		return nil, err
	}
	return v.proto(req.GetParent(), len(rec.Versions)), nil
}

// AccessSecretVersion returns a version's data. `latest` is the newest version whatever its state,
// so it fails with FailedPrecondition while that version is disabled — as the real API does.
func (s *service) AccessSecretVersion(ctx context.Context, req *secretmanagerpb.AccessSecretVersionRequest) (*secretmanagerpb.AccessSecretVersionResponse, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	secret, n, v, err := s.state.lookupVersion(req.GetName(), true)
	if err != nil {
		return nil, err
	}
	name := secret + "/versions/" + strconv.Itoa(n)
	if st := versionState(v); st != secretmanagerpb.SecretVersion_ENABLED {
		return nil, status.Errorf(codes.FailedPrecondition, "Secret Version [%s] is in %s state.", name, st)
	}
	sum := int64(v.CRC32C)
	return &secretmanagerpb.AccessSecretVersionResponse{
		Name:    name,
		Payload: &secretmanagerpb.SecretPayload{Data: slices.Clone(v.Data), DataCrc32C: &sum},
	}, nil
}

func (s *service) GetSecretVersion(ctx context.Context, req *secretmanagerpb.GetSecretVersionRequest) (*secretmanagerpb.SecretVersion, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	secret, n, v, err := s.state.lookupVersion(req.GetName(), true)
	if err != nil {
		return nil, err
	}
	return v.proto(secret, n), nil
}

// ListSecretVersions lists newest first. Of the real filter language it understands only
// `state:ENABLED|DISABLED|DESTROYED`; any other filter is InvalidArgument rather than ignored.
func (s *service) ListSecretVersions(ctx context.Context, req *secretmanagerpb.ListSecretVersionsRequest) (*secretmanagerpb.ListSecretVersionsResponse, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	want, err := parseStateFilter(req.GetFilter())
	if err != nil {
		return nil, err
	}
	pageSize := int(req.GetPageSize())
	switch {
	case pageSize < 0:
		return nil, invalidf("page_size must not be negative.")
	case pageSize == 0 || pageSize > maxPageSize:
		pageSize = maxPageSize
	}
	offset := 0
	if tok := req.GetPageToken(); tok != "" {
		offset, err = strconv.Atoi(tok)
		if err != nil || offset < 0 {
			return nil, invalidf("Invalid page_token.")
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	rec, err := s.state.lookupSecret(req.GetParent())
	if err != nil {
		return nil, err
	}
	var matched []*secretmanagerpb.SecretVersion
	for n := len(rec.Versions); n >= 1; n-- {
		v := rec.Versions[n-1]
		if want == secretmanagerpb.SecretVersion_STATE_UNSPECIFIED || versionState(v) == want {
			matched = append(matched, v.proto(req.GetParent(), n))
		}
	}
	resp := &secretmanagerpb.ListSecretVersionsResponse{TotalSize: int32(len(matched))}
	if offset >= len(matched) {
		return resp, nil
	}
	end := min(offset+pageSize, len(matched))
	resp.Versions = matched[offset:end]
	if end < len(matched) {
		resp.NextPageToken = strconv.Itoa(end)
	}
	return resp, nil
}

func parseStateFilter(filter string) (secretmanagerpb.SecretVersion_State, error) {
	filter = strings.TrimSpace(filter)
	if filter == "" {
		return secretmanagerpb.SecretVersion_STATE_UNSPECIFIED, nil
	}
	key, value, ok := strings.Cut(filter, ":")
	if ok && strings.EqualFold(strings.TrimSpace(key), "state") {
		st, known := secretmanagerpb.SecretVersion_State_value[strings.ToUpper(strings.TrimSpace(value))]
		if known && st != int32(secretmanagerpb.SecretVersion_STATE_UNSPECIFIED) {
			return secretmanagerpb.SecretVersion_State(st), nil
		}
	}
	return 0, invalidf("Unsupported filter %q: the local stand-in understands only state:ENABLED, state:DISABLED and state:DESTROYED.", filter)
}

func (s *service) DisableSecretVersion(ctx context.Context, req *secretmanagerpb.DisableSecretVersionRequest) (*secretmanagerpb.SecretVersion, error) {
	return s.transition(ctx, req.GetName(), req.GetEtag(), secretmanagerpb.SecretVersion_DISABLED)
}

func (s *service) EnableSecretVersion(ctx context.Context, req *secretmanagerpb.EnableSecretVersionRequest) (*secretmanagerpb.SecretVersion, error) {
	return s.transition(ctx, req.GetName(), req.GetEtag(), secretmanagerpb.SecretVersion_ENABLED)
}

// DestroySecretVersion wipes the data for good; the version stays listed as DESTROYED.
func (s *service) DestroySecretVersion(ctx context.Context, req *secretmanagerpb.DestroySecretVersionRequest) (*secretmanagerpb.SecretVersion, error) {
	return s.transition(ctx, req.GetName(), req.GetEtag(), secretmanagerpb.SecretVersion_DESTROYED)
}

// transition moves a version to the state to. A destroyed version can never change again;
// enabling an enabled or disabling a disabled version is a no-op that succeeds.
func (s *service) transition(ctx context.Context, name, etag string, to secretmanagerpb.SecretVersion_State) (*secretmanagerpb.SecretVersion, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	secret, n, v, err := s.state.lookupVersion(name, false)
	if err != nil {
		return nil, err
	}
	if etag != "" && etag != v.Etag {
		return nil, status.Errorf(codes.Aborted, "The etag of Secret Version [%s] does not match: it was changed concurrently.", name)
	}
	from := versionState(v)
	if from == secretmanagerpb.SecretVersion_DESTROYED {
		return nil, status.Errorf(codes.FailedPrecondition, "Secret Version [%s] is in DESTROYED state.", name)
	}
	if from == to {
		return v.proto(secret, n), nil
	}
	v.State = to.String()
	v.Etag = s.state.nextEtag()
	if to == secretmanagerpb.SecretVersion_DESTROYED {
		v.Data = nil
		v.DestroyTime = now()
	}
	if err := s.commit(); err != nil {
		return nil, err
	}
	return v.proto(secret, n), nil
}

func now() time.Time { return time.Now().UTC() }

func invalidf(format string, args ...any) error {
	return status.Errorf(codes.InvalidArgument, format, args...)
}

func notFoundf(format string, args ...any) error {
	return status.Errorf(codes.NotFound, format, args...)
}

func internalf(format string, args ...any) error {
	return status.Errorf(codes.Internal, format, args...)
}

func canceledf(format string, args ...any) error {
	return status.Errorf(codes.Canceled, format, args...)
}
