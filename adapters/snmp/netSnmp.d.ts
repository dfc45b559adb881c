/**
 * The part of `net-snmp` (3.x, which ships no types) that the agent uses: the UDP listener,
 * message decoding, community and USM (RFC 3414) checks and response encoding. The agent
 * answers the PDUs itself (./snmpAgent.ts), so only these members are declared.
 */
declare module 'net-snmp' {
  import type { Socket } from 'node:dgram';

  export interface Varbind {
    oid: string;
    type: number;
    value: unknown;
  }
  export interface Pdu {
    type: number;
    id: number;
    varbinds: Varbind[];
    nonRepeaters?: number;
    maxRepetitions?: number;
    contextName?: string;
    getResponsePduForRequest(): ResponsePdu;
  }
  export interface ResponsePdu {
    varbinds: Varbind[];
    errorStatus?: number;
    errorIndex?: number;
  }
  export interface Message {
    version: number;
    community?: string;
    user?: { name: string };
    pdu: Pdu;
  }
  export interface RemoteInfo {
    address: string;
    port: number;
  }
  export interface User {
    name: string;
    level: number;
    authProtocol?: number;
    authKey?: string;
    privProtocol?: number;
    privKey?: string;
  }
  export interface Authorizer {
    addCommunity(community: string): void;
    addUser(user: User): void;
  }
  type Handler = (socket: Socket, message: Message, rinfo: RemoteInfo) => void;
  export interface Agent {
    listener: { sockets: Record<string, Socket> };
    getAuthorizer(): Authorizer;
    getRequest: Handler;
    setRequest: Handler;
    getNextRequest: Handler;
    getBulkRequest: Handler;
    sendResponse(socket: Socket, rinfo: RemoteInfo, message: Message, pdu: ResponsePdu): void;
    close(callback?: () => void): void;
    /** The SNMPv3 engine (RFC 3411): its ID, boots and time go into Reports. */
    engine: { engineID: Buffer; engineBoots: number; engineTime: number };
    /** What the listener calls for each datagram (decode, USM and community checks, dispatch). */
    onMsg(socket: Socket, buffer: Buffer, rinfo: RemoteInfo): void;
  }
  export interface AgentOptions {
    port?: number;
    address?: string | null;
    transport?: 'udp4' | 'udp6';
    disableAuthorization?: boolean;
    engineID?: string;
  }
  interface NetSnmp {
    createAgent(options: AgentOptions, callback: (error: (Error & { rinfo?: RemoteInfo; code?: number }) | null, data?: unknown) => void): Agent;
    Version1: number;
    Version2c: number;
    Version3: number;
    ObjectType: Record<string, number>;
    ErrorStatus: Record<string, number>;
    PduType: Record<string, number>;
    SecurityLevel: Record<'noAuthNoPriv' | 'authNoPriv' | 'authPriv', number>;
    AuthProtocols: Record<string, number>;
    PrivProtocols: Record<string, number>;
    ResponseInvalidCode: Record<string, number>;
    Authentication: {
      /** HMAC of the message with the digest field zeroed, keyed by the password localized to `engineID` (RFC 3414 §6.3.2). */
      isAuthentic(message: Buffer, authProtocol: number, authPassword: string, engineID: Buffer, digestInMessage: Buffer): boolean;
    };
    Encryption: {
      /** Decrypts a scopedPDU (RFC 3826 AES-CFB, RFC 3414 §8 DES-CBC); throws on bad input. */
      decryptPdu(privProtocol: number, encrypted: Buffer, privParameters: Buffer, privPassword: string, authProtocol: number, engine: { engineID: Buffer; engineBoots: number; engineTime: number }): Buffer;
    };
  }
  const snmp: NetSnmp;
  export default snmp;
}
