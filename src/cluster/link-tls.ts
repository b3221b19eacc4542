import { X509Certificate } from 'node:crypto';
import type { ServerOptions } from 'node:https';
import { isIPv4 } from 'node:net';
import type { ClientOptions } from 'ws';

/** PEM texts: this node's key and certificate, and the CA every node's certificate must chain to. */
export interface ClusterTls {
  key: string;
  cert: string;
  ca: string;
}

/**
 * The cluster port's TLS: it asks every dialer for a certificate and refuses, during the TLS
 * handshake, one that is missing, expired or not issued by the cluster CA. It does not match the
 * certificate's name to the node id the dialer then claims (the HMAC challenge proves that).
 */
export function listenerTlsOptions(tls: ClusterTls): ServerOptions {
  return { key: tls.key, cert: tls.cert, ca: tls.ca, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2' };
}

/**
 * A dialer's TLS: it presents its own certificate and accepts only a server certificate issued
 * by the cluster CA whose names include the address it dialled (IP or DNS name, as Node checks it).
 */
export function dialerTlsOptions(tls: ClusterTls): ClientOptions {
  return { key: tls.key, cert: tls.cert, ca: tls.ca, rejectUnauthorized: true, minVersion: 'TLSv1.2' };
}

/** SHA-256 fingerprint of a PEM certificate, as peers see it (`AA:BB:...`). */
export function certificateFingerprint(certPem: string): string {
  return new X509Certificate(certPem).fingerprint256;
}

/** Whether an address to listen on reaches only this machine (plaintext there needs no warning). */
export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost' || host === '::1' || host === '[::1]') return true;
  return isIPv4(host) && host.startsWith('127.');
}
