//! Every project of the region, with the template version it runs and whether that is the one published now.
//!
//! Requests: SageMaker `Search` (Resource `Project`) returns 100 projects a page *with* their tags and template
//! provider details, so N projects take ⌈N/100⌉ Search pages — not a ListProjects page plus a ListTags and a
//! DescribeProject per project (2N + ⌈N/100⌉). The versions of each template the projects use come from one
//! ListObjectVersions per template, [`CONCURRENCY`] at a time. 1,000 projects on the five templates: 10 + 5
//! = 15 requests.

use std::collections::BTreeMap;

use aws_sdk_sagemaker::primitives::DateTimeFormat;
use aws_sdk_sagemaker::types::{Project, ResourceType};
use futures::stream::{self, StreamExt};
use serde::Serialize;

use super::error::LaunchError;
use super::launch::provider_parameters;
use super::s3_url::{parse_s3_url, template_stem, unpinned, url_version_id};
use super::version::{short, template_versions, TemplateVersions};
use crate::aws::CallError;
use crate::labels::{DIGEST_TAG, DOMAIN_TAG, TEMPLATE_TAG};

/// Search's largest page.
pub const PAGE_SIZE: i32 = 100;
/// How many ListObjectVersions run at once.
pub const CONCURRENCY: usize = 8;

/// One project, as `projects list` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FleetProject {
    pub name: String,
    pub id: Option<String>,
    pub arn: Option<String>,
    pub status: String,
    /// The template's name: its tag, else the file stem of its TemplateURL.
    pub template: Option<String>,
    /// The CfnTemplateProvider's TemplateName (what UpdateProject must be sent back).
    pub template_label: Option<String>,
    pub template_url: Option<String>,
    /// The digest of the version it runs: its tag, else the version its TemplateURL is pinned to.
    pub digest: Option<String>,
    /// The digest published now.
    pub current_digest: Option<String>,
    /// `Some(true)`: runs another version than the published one; `None`: unknown.
    pub outdated: Option<bool>,
    /// The domain, for projects the onboarder created.
    pub domain: Option<String>,
    /// The user profile (or IAM identity) that created it.
    pub created_by: Option<String>,
    /// RFC 3339.
    pub created: Option<String>,
    pub parameters: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
    /// Why its template's versions could not be read (AccessDenied on the bucket, a deleted object): its version
    /// is then unknown, and the other projects are judged all the same.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template_error: Option<String>,
}

impl FleetProject {
    pub fn from_project(p: &Project) -> Self {
        let tags: BTreeMap<String, String> = p
            .tags()
            .iter()
            .filter_map(|t| Some((t.key()?.to_owned(), t.value().unwrap_or("").to_owned())))
            .collect();
        let cfn = p
            .template_provider_details()
            .iter()
            .find_map(|d| d.cfn_template_provider_detail());
        let url = cfn.and_then(|c| c.template_url()).map(str::to_owned);
        let from_url = url
            .as_deref()
            .and_then(|u| parse_s3_url(u).ok())
            .map(|o| template_stem(&o.key).to_owned());
        let created_by = p.created_by().and_then(|c| {
            c.user_profile_name()
                .map(str::to_owned)
                .or_else(|| c.iam_identity().and_then(|i| i.arn()).map(str::to_owned))
        });
        Self {
            name: p.project_name().unwrap_or_default().to_owned(),
            id: p.project_id().map(str::to_owned),
            arn: p.project_arn().map(str::to_owned),
            status: p
                .project_status()
                .map_or("Unknown", |s| s.as_str())
                .to_owned(),
            template: tags.get(TEMPLATE_TAG).cloned().or(from_url),
            template_label: cfn.and_then(|c| c.template_name()).map(str::to_owned),
            template_url: url,
            digest: tags.get(DIGEST_TAG).cloned(),
            current_digest: None,
            outdated: None,
            domain: tags.get(DOMAIN_TAG).cloned(),
            created_by,
            created: p
                .creation_time()
                .and_then(|t| t.fmt(DateTimeFormat::DateTime).ok()),
            parameters: provider_parameters(cfn),
            tags,
            template_error: None,
        }
    }

    /// The short digest, or `?` when the project does not say which version it runs.
    pub fn version(&self) -> &str {
        self.digest.as_deref().map_or("?", short)
    }

    /// The template's URL without a version.
    fn base_url(&self) -> Option<&str> {
        self.template_url.as_deref().map(unpinned)
    }
}

/// What to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Only projects of this template.
    pub template: Option<String>,
    /// Only projects that run another version than the published one.
    pub outdated: bool,
    /// Only projects of this domain (by the onboarder's tag).
    pub domain: Option<String>,
}

impl Filter {
    fn keeps(&self, p: &FleetProject) -> bool {
        self.template
            .as_deref()
            .is_none_or(|t| p.template.as_deref() == Some(t))
            && (!self.outdated || p.outdated == Some(true))
            && self
                .domain
                .as_deref()
                .is_none_or(|d| p.domain.as_deref() == Some(d))
    }
}

/// The requests a listing made, by operation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Requests {
    #[serde(rename = "Search")]
    pub search: usize,
    #[serde(rename = "ListObjectVersions")]
    pub list_object_versions: usize,
    /// Versions read to name them by content, under SSE-KMS only ([`TemplateVersions::read_digests`]).
    #[serde(rename = "GetObject")]
    pub get_object: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Listing {
    pub projects: Vec<FleetProject>,
    /// The versions of each template the listed projects use, newest first.
    pub templates: Vec<TemplateVersions>,
    pub requests: Requests,
}

/// Every project of the region (SageMaker Search, [`PAGE_SIZE`] a page), deleted ones left out.
pub async fn search_projects(
    sm: &aws_sdk_sagemaker::Client,
) -> Result<(Vec<FleetProject>, usize), LaunchError> {
    let mut projects = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let out = sm
            .search()
            .resource(ResourceType::Project)
            .max_results(PAGE_SIZE)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| CallError::new("SageMaker", "Search", "projects", e))?;
        pages += 1;
        projects.extend(
            out.results()
                .iter()
                .filter_map(|r| r.project())
                .map(FleetProject::from_project)
                .filter(|p| !p.name.is_empty() && p.status != "DeleteCompleted"),
        );
        match out.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_owned()),
            _ => break,
        }
    }
    projects.sort_by(|a, b| a.name.cmp(&b.name));
    Ok((projects, pages))
}

/// The versions of every template the projects use: one ListObjectVersions per template URL. A template that
/// cannot be read is reported on its projects (`template_error`), not as the whole listing's failure.
pub async fn versions_of(
    s3: &aws_sdk_s3::Client,
    projects: &mut [FleetProject],
) -> Vec<TemplateVersions> {
    let mut wanted: BTreeMap<String, String> = BTreeMap::new();
    for p in projects.iter() {
        if let (Some(url), Some(name)) = (p.base_url(), p.template.as_deref()) {
            wanted
                .entry(url.to_owned())
                .or_insert_with(|| name.to_owned());
        }
    }
    let read: Vec<(String, Result<TemplateVersions, LaunchError>)> = stream::iter(wanted)
        .map(|(url, name)| async move {
            let versions = template_versions(s3, &name, &url).await;
            (url, versions)
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let mut templates = Vec::new();
    for (url, versions) in read {
        match versions {
            Ok(v) => templates.push(v),
            Err(e) => {
                for p in projects
                    .iter_mut()
                    .filter(|p| p.base_url() == Some(url.as_str()))
                {
                    p.template_error = Some(e.to_string());
                }
            }
        }
    }
    templates
}

/// Under SSE-KMS the listed ETags are not content digests: a template whose projects carry a digest no listed
/// version has is read version by version ([`TemplateVersions::read_digests`]). Returns the GetObjects made
/// (none under SSE-S3, where every tag matches an ETag).
pub async fn read_digests_if_needed(
    s3: &aws_sdk_s3::Client,
    templates: &mut [TemplateVersions],
    projects: &[FleetProject],
) -> Result<usize, LaunchError> {
    let mut reads = 0;
    for t in templates.iter_mut() {
        let unknown = projects.iter().any(|p| {
            p.base_url() == Some(t.url.as_str()) && p.digest.as_deref().is_some_and(|d| !t.knows(d))
        });
        if unknown {
            reads += t.read_digests(s3).await?;
        }
    }
    Ok(reads)
}

/// Fills in each project's current digest, whether it is outdated, and — for a project without the digest
/// tag whose TemplateURL is pinned — the digest of the version it is pinned to.
pub fn judge(projects: &mut [FleetProject], templates: &[TemplateVersions]) {
    for p in projects {
        let Some(versions) = p
            .base_url()
            .and_then(|u| templates.iter().find(|t| t.url == u))
        else {
            continue;
        };
        if p.digest.is_none() {
            let pinned = p.template_url.as_deref().and_then(url_version_id);
            p.digest = pinned.and_then(|id| {
                versions
                    .versions
                    .iter()
                    .find(|v| v.version_id.as_deref() == Some(id.as_str()))
                    .map(|v| v.digest.clone())
            });
        }
        p.current_digest = versions.current().map(|v| v.digest.clone());
        p.outdated = match (&p.digest, &p.current_digest) {
            (Some(d), Some(c)) => Some(d != c),
            _ => None,
        };
    }
}

/// `projects list`: every project, judged against the published versions, then filtered.
pub async fn list(
    sm: &aws_sdk_sagemaker::Client,
    s3: &aws_sdk_s3::Client,
    filter: &Filter,
) -> Result<Listing, LaunchError> {
    let (mut projects, pages) = search_projects(sm).await?;
    // only the templates of the projects that can pass the filter need their versions
    projects.retain(|p| {
        Filter {
            outdated: false,
            ..filter.clone()
        }
        .keeps(p)
    });
    let mut templates = versions_of(s3, &mut projects).await;
    let get_object = read_digests_if_needed(s3, &mut templates, &projects).await?;
    judge(&mut projects, &templates);
    projects.retain(|p| filter.keeps(p));
    Ok(Listing {
        projects,
        requests: Requests {
            search: pages,
            list_object_versions: templates.len(),
            get_object,
        },
        templates,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::projects::testing::object_version;
    use aws_sdk_s3::operation::list_object_versions::ListObjectVersionsOutput;
    use aws_sdk_sagemaker::operation::search::SearchOutput;
    use aws_sdk_sagemaker::types::{
        CfnTemplateProviderDetail, ProjectStatus, SearchRecord, Tag, TemplateProviderDetail,
    };
    use aws_smithy_mocks::{mock, mock_client, RuleMode};

    const URL: &str = "https://b.s3.us-east-1.amazonaws.com/t/deploy.yaml";

    fn project(name: &str, url: &str, tags: &[(&str, &str)]) -> SearchRecord {
        let mut p = Project::builder()
            .project_name(name)
            .project_status(ProjectStatus::CreateCompleted)
            .template_provider_details(
                TemplateProviderDetail::builder()
                    .cfn_template_provider_detail(
                        CfnTemplateProviderDetail::builder()
                            .template_name("deploy")
                            .template_url(url)
                            .build(),
                    )
                    .build(),
            );
        for (k, v) in tags {
            p = p.tags(Tag::builder().key(*k).value(*v).build());
        }
        SearchRecord::builder().project(p.build()).build()
    }

    fn page(records: Vec<SearchRecord>, next: Option<&str>) -> SearchOutput {
        SearchOutput::builder()
            .set_results(Some(records))
            .set_next_token(next.map(str::to_owned))
            .build()
    }

    #[tokio::test]
    async fn an_unreadable_template_is_reported_on_its_projects_and_the_others_are_judged() {
        const DENIED: &str = "https://locked.s3.us-east-1.amazonaws.com/t/other.yaml";
        let search = mock!(aws_sdk_sagemaker::Client::search).then_output(|| {
            page(
                vec![
                    project("ok", URL, &[(TEMPLATE_TAG, "deploy"), (DIGEST_TAG, "bbb")]),
                    project(
                        "locked",
                        DENIED,
                        &[(TEMPLATE_TAG, "other"), (DIGEST_TAG, "ccc")],
                    ),
                ],
                None,
            )
        });
        let readable = mock!(aws_sdk_s3::Client::list_object_versions)
            .match_requests(|r| r.bucket() == Some("b"))
            .then_output(|| {
                ListObjectVersionsOutput::builder()
                    .versions(object_version("t/deploy.yaml", "bbb", "2", true))
                    .build()
            });
        let (status, body) = crate::aws::answers::s3_error(403, "AccessDenied", "Access Denied");
        let denied = mock!(aws_sdk_s3::Client::list_object_versions)
            .match_requests(|r| r.bucket() == Some("locked"))
            .sequence()
            .http_status(status, body)
            .build();
        let sm = mock_client!(aws_sdk_sagemaker, [&search]);
        let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&readable, &denied]);
        let all = list(&sm, &s3, &Filter::default()).await.unwrap();
        let ok = all.projects.iter().find(|p| p.name == "ok").unwrap();
        assert_eq!(
            (ok.outdated, ok.template_error.as_deref()),
            (Some(false), None)
        );
        let locked = all.projects.iter().find(|p| p.name == "locked").unwrap();
        assert_eq!(locked.outdated, None);
        assert!(
            locked
                .template_error
                .as_deref()
                .is_some_and(|e| e.contains("AccessDenied")),
            "{locked:?}"
        );
    }

    #[tokio::test]
    async fn projects_are_judged_against_the_published_version_in_one_request_per_page_and_template(
    ) {
        let search = mock!(aws_sdk_sagemaker::Client::search)
            .sequence()
            .output(|| {
                page(
                    vec![
                        project("old", URL, &[(TEMPLATE_TAG, "deploy"), (DIGEST_TAG, "aaa")]),
                        project("new", URL, &[(TEMPLATE_TAG, "deploy"), (DIGEST_TAG, "bbb")]),
                    ],
                    Some("t2"),
                )
            })
            .output(|| {
                page(
                    vec![
                        // created by hand, pinned: its version is read from the pin
                        project("pinned", &format!("{URL}?versionId=1"), &[]),
                        project("unknown", URL, &[(DOMAIN_TAG, "d-1")]),
                    ],
                    None,
                )
            })
            .build();
        let versions = mock!(aws_sdk_s3::Client::list_object_versions).then_output(|| {
            ListObjectVersionsOutput::builder()
                .versions(object_version("t/deploy.yaml", "bbb", "2", true))
                .versions(object_version("t/deploy.yaml", "aaa", "1", false))
                .build()
        });
        let sm = mock_client!(aws_sdk_sagemaker, RuleMode::Sequential, [&search]);
        let s3 = mock_client!(aws_sdk_s3, [&versions]);
        let all = list(&sm, &s3, &Filter::default()).await.unwrap();
        let seen: Vec<(&str, &str, Option<bool>, Option<&str>)> = all
            .projects
            .iter()
            .map(|p| {
                (
                    p.name.as_str(),
                    p.version(),
                    p.outdated,
                    p.domain.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            seen,
            [
                ("new", "bbb", Some(false), None),
                ("old", "aaa", Some(true), None),
                ("pinned", "aaa", Some(true), None),
                ("unknown", "?", None, Some("d-1")),
            ]
        );
        assert_eq!(
            all.requests,
            Requests {
                search: 2,
                list_object_versions: 1,
                get_object: 0
            }
        );
        assert!(all
            .projects
            .iter()
            .all(|p| p.template.as_deref() == Some("deploy")));
        assert_eq!(all.projects[0].current_digest.as_deref(), Some("bbb"));
    }

    #[test]
    fn filters_keep_a_template_a_domain_or_the_outdated() {
        let mut p = FleetProject::from_project(
            project("x", URL, &[(TEMPLATE_TAG, "deploy"), (DOMAIN_TAG, "d-1")])
                .project()
                .unwrap(),
        );
        let f = |template: Option<&str>, outdated: bool, domain: Option<&str>| Filter {
            template: template.map(str::to_owned),
            outdated,
            domain: domain.map(str::to_owned),
        };
        assert!(f(Some("deploy"), false, Some("d-1")).keeps(&p));
        assert!(!f(Some("other"), false, None).keeps(&p));
        assert!(!f(None, false, Some("d-2")).keeps(&p));
        assert!(!f(None, true, None).keeps(&p));
        p.outdated = Some(true);
        assert!(f(None, true, None).keeps(&p));
    }
}
