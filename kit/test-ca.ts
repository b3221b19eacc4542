import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface CertFiles {
  keyFile: string;
  certFile: string;
  key: string;
  cert: string;
}

export interface TestCa {
  caFile: string;
  ca: string;
  /** A key and certificate for `name`, issued by this CA, valid for 127.0.0.1 and localhost, as server and client. */
  issue(name: string): CertFiles;
}

const openssl = (dir: string, args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });

/**
 * A throwaway CA made with openssl in a temp dir (EC P-256, valid two days). A kit shared by the
 * cluster TLS tests and the cluster benchmark's TLS run.
 */
export function createTestCa(name: string): TestCa {
  const dir = mkdtempSync(join(tmpdir(), `relaymesh-ca-${name}-`));
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(dir, ['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', `/CN=${name}`]);
  writeFileSync(join(dir, 'node.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\nbasicConstraints=CA:FALSE\n');
  const caFile = join(dir, 'ca.crt');
  return {
    caFile,
    ca: readFileSync(caFile, 'utf8'),
    issue(node: string): CertFiles {
      openssl(dir, ['req', ...ec, '-keyout', `${node}.key`, '-out', `${node}.csr`, '-subj', `/CN=${node}`]);
      openssl(dir, ['x509', '-req', '-in', `${node}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${node}.crt`, '-days', '2', '-extfile', 'node.ext']);
      const keyFile = join(dir, `${node}.key`);
      const certFile = join(dir, `${node}.crt`);
      return { keyFile, certFile, key: readFileSync(keyFile, 'utf8'), cert: readFileSync(certFile, 'utf8') };
    },
  };
}
