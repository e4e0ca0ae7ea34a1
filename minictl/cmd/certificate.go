package cmd

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	certificatesv1 "minik8s/api/certificates/v1"
	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	"minik8s/api/scheme"
)

// subresourceUpdater is what approval needs beyond ResourceAPI;
// *client.Resource implements it.
type subresourceUpdater interface {
	UpdateSubresource(ctx context.Context, obj scheme.Object, subresource string) (scheme.Object, error)
}

func newCertificateCommand(o *Options) *cobra.Command {
	c := &cobra.Command{
		Use:   "certificate SUBCOMMAND",
		Short: "Approve or deny certificate signing requests",
	}
	c.AddCommand(newCertificateDecision(o, certificatesv1.Approved), newCertificateDecision(o, certificatesv1.Denied))
	return c
}

// decision words one subcommand: approve (Approved) or deny (Denied).
type decision struct {
	verb, done, reason, message, opposite string
}

func decisionOf(typ string) decision {
	if typ == certificatesv1.Approved {
		return decision{"approve", "approved", "KubectlApprove", "This CSR was approved by kubectl certificate approve.", certificatesv1.Denied}
	}
	return decision{"deny", "denied", "KubectlDeny", "This CSR was denied by kubectl certificate deny.", certificatesv1.Approved}
}

func newCertificateDecision(o *Options, typ string) *cobra.Command {
	d := decisionOf(typ)
	var force bool
	c := &cobra.Command{
		Use:   d.verb + " NAME...",
		Short: "Add the " + typ + " condition to certificate signing requests",
		Long: fmt.Sprintf(`%s certificate signing requests through their approval subresource, as
kubectl certificate %s does. The caller needs update on
certificatesigningrequests/approval and verb "approve" on the request's
signer (resource signers of group certificates.k8s.io).`, typ, d.verb),
		Example: fmt.Sprintf("  minictl certificate %s jane", d.verb),
		Args:    cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			for _, name := range args {
				if err := o.decideCSR(c.Context(), typ, name, force); err != nil {
					return err
				}
			}
			return nil
		},
	}
	c.Flags().BoolVar(&force, "force", false, "update the request even if it already has the condition")
	return c
}

// decideCSR adds the condition typ to the request name, retrying on
// conflicts, and prints what it did.
func (o *Options) decideCSR(ctx context.Context, typ, name string, force bool) error {
	d := decisionOf(typ)
	k := certificatesv1.Kind
	api, err := o.resource(k)
	if err != nil {
		return err
	}
	up, ok := api.(subresourceUpdater)
	if !ok {
		return errors.New("this connection cannot update the approval subresource")
	}
	for attempt := 0; ; attempt++ {
		rctx, cancel := o.requestContext(ctx)
		live, err := api.Get(rctx, "", name)
		cancel()
		if err != nil {
			return err
		}
		csr := proto.Clone(live).(*certificatesv1.CertificateSigningRequest)
		has := false
		for _, c := range csr.GetStatus().GetConditions() {
			switch c.GetType() {
			case d.opposite:
				// kubectl names the condition type here: "already Denied".
				return fmt.Errorf("certificate signing request %q is already %s", name, d.opposite)
			case typ:
				has = true
			}
		}
		if has && !force {
			break
		}
		if !has {
			if csr.Status == nil {
				csr.Status = &certificatesv1.CertificateSigningRequestStatus{}
			}
			csr.Status.Conditions = append(csr.Status.Conditions, &certificatesv1.CertificateSigningRequestCondition{
				Type: typ, Status: corev1.ConditionTrue, Reason: d.reason, Message: d.message, LastUpdateTime: timestamppb.Now(),
			})
		}
		rctx, cancel = o.requestContext(ctx)
		_, err = up.UpdateSubresource(rctx, csr, "approval")
		cancel()
		if apierrors.IsConflict(err) && attempt < 10 {
			continue
		}
		if err != nil {
			return err
		}
		break
	}
	fmt.Fprintf(o.Out, "%s %s\n", objectName(k, name), d.done)
	return nil
}
