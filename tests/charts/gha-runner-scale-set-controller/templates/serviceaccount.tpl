# Test stand-in: the controller's ServiceAccount, named as upstream names it.
apiVersion: v1
kind: ServiceAccount
metadata:
  # Upstream: <release>-gha-rs-controller unless serviceAccount.name is set.
  name: '{{ .Values.serviceAccount.name | default (printf "%s-gha-rs-controller" .Release.Name) }}'
  namespace: '{{ .Release.Namespace }}'
