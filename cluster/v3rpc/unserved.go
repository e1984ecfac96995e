package v3rpc

import (
	"context"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// notServed is the answer to an RPC etcdlab does not serve: Unimplemented,
// naming what is missing, so a client fails loudly instead of getting an
// empty answer that looks like success.
func notServed(what string) error {
	return status.Error(codes.Unimplemented, "etcdlab: "+what+" is not served")
}

func statusInvalid(msg string) error { return status.Error(codes.InvalidArgument, msg) }

// authServer answers every auth RPC with Unimplemented.
type authServer struct{}

var _ pb.AuthServer = authServer{}

func (authServer) AuthEnable(context.Context, *pb.AuthEnableRequest) (*pb.AuthEnableResponse, error) {
	return nil, notServed("auth (AuthEnable)")
}
func (authServer) AuthDisable(context.Context, *pb.AuthDisableRequest) (*pb.AuthDisableResponse, error) {
	return nil, notServed("auth (AuthDisable)")
}
func (authServer) AuthStatus(context.Context, *pb.AuthStatusRequest) (*pb.AuthStatusResponse, error) {
	return nil, notServed("auth (AuthStatus)")
}
func (authServer) Authenticate(context.Context, *pb.AuthenticateRequest) (*pb.AuthenticateResponse, error) {
	return nil, notServed("auth (Authenticate)")
}
func (authServer) UserAdd(context.Context, *pb.AuthUserAddRequest) (*pb.AuthUserAddResponse, error) {
	return nil, notServed("auth (UserAdd)")
}
func (authServer) UserGet(context.Context, *pb.AuthUserGetRequest) (*pb.AuthUserGetResponse, error) {
	return nil, notServed("auth (UserGet)")
}
func (authServer) UserList(context.Context, *pb.AuthUserListRequest) (*pb.AuthUserListResponse, error) {
	return nil, notServed("auth (UserList)")
}
func (authServer) UserDelete(context.Context, *pb.AuthUserDeleteRequest) (*pb.AuthUserDeleteResponse, error) {
	return nil, notServed("auth (UserDelete)")
}
func (authServer) UserChangePassword(context.Context, *pb.AuthUserChangePasswordRequest) (*pb.AuthUserChangePasswordResponse, error) {
	return nil, notServed("auth (UserChangePassword)")
}
func (authServer) UserGrantRole(context.Context, *pb.AuthUserGrantRoleRequest) (*pb.AuthUserGrantRoleResponse, error) {
	return nil, notServed("auth (UserGrantRole)")
}
func (authServer) UserRevokeRole(context.Context, *pb.AuthUserRevokeRoleRequest) (*pb.AuthUserRevokeRoleResponse, error) {
	return nil, notServed("auth (UserRevokeRole)")
}
func (authServer) RoleAdd(context.Context, *pb.AuthRoleAddRequest) (*pb.AuthRoleAddResponse, error) {
	return nil, notServed("auth (RoleAdd)")
}
func (authServer) RoleGet(context.Context, *pb.AuthRoleGetRequest) (*pb.AuthRoleGetResponse, error) {
	return nil, notServed("auth (RoleGet)")
}
func (authServer) RoleList(context.Context, *pb.AuthRoleListRequest) (*pb.AuthRoleListResponse, error) {
	return nil, notServed("auth (RoleList)")
}
func (authServer) RoleDelete(context.Context, *pb.AuthRoleDeleteRequest) (*pb.AuthRoleDeleteResponse, error) {
	return nil, notServed("auth (RoleDelete)")
}
func (authServer) RoleGrantPermission(context.Context, *pb.AuthRoleGrantPermissionRequest) (*pb.AuthRoleGrantPermissionResponse, error) {
	return nil, notServed("auth (RoleGrantPermission)")
}
func (authServer) RoleRevokePermission(context.Context, *pb.AuthRoleRevokePermissionRequest) (*pb.AuthRoleRevokePermissionResponse, error) {
	return nil, notServed("auth (RoleRevokePermission)")
}
