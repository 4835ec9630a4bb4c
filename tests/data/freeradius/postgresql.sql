-- FreeRADIUS 3.x tables (rlm_sql + rlm_sqlippool), PostgreSQL flavour; see README.md.
CREATE TABLE radacct (
  RadAcctId bigserial PRIMARY KEY, AcctSessionId text NOT NULL, AcctUniqueId text NOT NULL UNIQUE,
  UserName text, Realm text, NASIPAddress inet NOT NULL, NASPortId text, NASPortType text,
  AcctStartTime timestamp with time zone, AcctUpdateTime timestamp with time zone,
  AcctStopTime timestamp with time zone, AcctInterval bigint, AcctSessionTime bigint, AcctAuthentic text,
  ConnectInfo_start text, ConnectInfo_stop text, AcctInputOctets bigint, AcctOutputOctets bigint,
  CalledStationId text, CallingStationId text, AcctTerminateCause text, ServiceType text, FramedProtocol text,
  FramedIPAddress inet, FramedIPv6Address inet, FramedIPv6Prefix inet, FramedInterfaceId text,
  DelegatedIPv6Prefix inet, Class text
);
CREATE TABLE radcheck (id serial PRIMARY KEY, UserName text NOT NULL DEFAULT '', Attribute text NOT NULL DEFAULT '',
  op VARCHAR(2) NOT NULL DEFAULT '==', Value text NOT NULL DEFAULT '');
CREATE TABLE radgroupcheck (id serial PRIMARY KEY, GroupName text NOT NULL DEFAULT '',
  Attribute text NOT NULL DEFAULT '', op VARCHAR(2) NOT NULL DEFAULT '==', Value text NOT NULL DEFAULT '');
CREATE TABLE radgroupreply (id serial PRIMARY KEY, GroupName text NOT NULL DEFAULT '',
  Attribute text NOT NULL DEFAULT '', op VARCHAR(2) NOT NULL DEFAULT '=', Value text NOT NULL DEFAULT '');
CREATE TABLE radreply (id serial PRIMARY KEY, UserName text NOT NULL DEFAULT '', Attribute text NOT NULL DEFAULT '',
  op VARCHAR(2) NOT NULL DEFAULT '=', Value text NOT NULL DEFAULT '');
CREATE TABLE radusergroup (id serial PRIMARY KEY, UserName text NOT NULL DEFAULT '',
  GroupName text NOT NULL DEFAULT '', priority integer NOT NULL DEFAULT 0);
CREATE TABLE nas (id serial PRIMARY KEY, nasname text NOT NULL, shortname text NOT NULL,
  type text NOT NULL DEFAULT 'other', ports integer, secret text NOT NULL, server text, community text,
  description text);
CREATE TABLE radippool (id BIGSERIAL PRIMARY KEY, pool_name text NOT NULL, FramedIPAddress INET NOT NULL,
  NASIPAddress text NOT NULL default '', pool_key text NOT NULL default '', CalledStationId text NOT NULL default '',
  CallingStationId text NOT NULL default ''::text, expiry_time TIMESTAMP(0) without time zone NOT NULL default NOW(),
  username text DEFAULT ''::text);
