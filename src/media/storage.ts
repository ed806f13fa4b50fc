/** Where an org's media lives in R2 (SPEC 1). */
export const mediaKey = (orgId: string, mediaId: string) => `orgs/${orgId}/media/${mediaId}`;
